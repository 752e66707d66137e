// The merged configuration as a tree of plain values, addressed by dotted option path.
import { OPTIONS } from './options.js'

export type Tree = Record<string, unknown>

/** An option's value in the merged tree, or its default. */
export type Reader = <T>(path: string) => T

export function readerOf(tree: Tree): Reader {
  return <T>(path: string): T => {
    const v = getPath(tree, path)
    if (v !== undefined) return v as T
    return OPTIONS.find((o) => o.path === path)?.default as T
  }
}

/** Leaves by dotted path; secret objects ({env|file|value}) count as leaves. */
export function flatten(tree: Tree, prefix = ''): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = []
  for (const [k, v] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${k}` : k
    const spec = OPTIONS.find((o) => o.path === path)
    const isBranch = v !== null && typeof v === 'object' && !Array.isArray(v) && spec === undefined
    if (isBranch && OPTIONS.some((o) => o.path.startsWith(`${path}.`))) out.push(...flatten(v as Tree, path))
    else out.push([path, v])
  }
  return out
}

export function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.')
  let node = tree
  for (const part of parts.slice(0, -1)) {
    const next = node[part]
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[part] = {}
    node = node[part] as Tree
  }
  node[parts[parts.length - 1] as string] = value
}

export function getPath(tree: Tree, path: string): unknown {
  let node: unknown = tree
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Tree)[part]
  }
  return node
}
