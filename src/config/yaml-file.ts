// Reads the YAML configuration file into a plain tree; syntax errors point at the line, with secrets masked.
import { readFileSync } from 'node:fs'
import { LineCounter, parseDocument, visit, type Alias, type Document } from 'yaml'
import { ProxyError } from '../shared/errors.js'
import { OPTIONS } from './options.js'
import type { Tree } from './tree.js'

/** The file's top-level mapping ({} for an empty file). Throws config_unreadable or config_invalid. */
export function readYaml(path: string): Tree {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new ProxyError('config_unreadable', `cannot read config file ${path} (${code ?? 'error'})`, {
      cause: err,
      hint: 'Check the path given to --config (or OAC_PROXY_CONFIG) and its permissions.',
    })
  }
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, lineCounter })
  if (doc.errors.length > 0) {
    // several complaints about one position share its line and excerpt
    const byPosition = new Map<string, { pos: { line: number; col: number } | undefined; messages: string[] }>()
    for (const e of doc.errors) {
      const pos = e.linePos?.[0]
      const message = (e.message.split('\n')[0] as string).replace(/ at line \d+, column \d+:?$/, '')
      const key = pos ? `${pos.line}:${pos.col}` : ''
      const at = byPosition.get(key) ?? { pos, messages: [] }
      if (!at.messages.includes(message)) at.messages.push(message)
      byPosition.set(key, at)
    }
    const lines = [...byPosition.values()].map(
      ({ pos, messages }) =>
        `${path}${pos ? `:${pos.line}:${pos.col}` : ''}: ${messages.join('; ')}${pos ? '\n' + excerpt(text, pos) : ''}`,
    )
    throw new ProxyError('config_unreadable', `config file is not valid YAML:\n${lines.join('\n')}`, {
      hint: 'Fix the YAML syntax at the position shown (indentation, quotes, duplicate keys).',
    })
  }
  let data: unknown
  try {
    // aliases are resolved here: an unknown anchor or an alias bomb is a config error, not a crash
    data = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    const at = aliasPosition(doc, lineCounter)
    throw new ProxyError(
      'config_unreadable',
      `config file is not valid YAML:\n${path}${at}: ${(err as Error).message.split('\n')[0]}`,
      {
        hint:
          'Fix the YAML anchors and aliases: an alias must refer to an anchor defined before it, ' +
          'and a config needs far fewer than 100 of them.',
      },
    )
  }
  if (data === null || data === undefined) return {}
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ProxyError('config_invalid', `${path}: the top level must be a mapping of keys to values`, {
      hint: 'See config.example.yaml for the expected shape.',
    })
  }
  return data as Tree
}

/** `:line:col` of the first alias that does not resolve (else of the first alias), or '' without one. */
function aliasPosition(doc: Document, lineCounter: LineCounter): string {
  let unresolved: Alias | undefined
  let first: Alias | undefined
  visit(doc, {
    Alias(_key, node) {
      first ??= node
      if (!unresolved && node.resolve(doc) === undefined) unresolved = node
    },
  })
  const offset = (unresolved ?? first)?.range?.[0]
  if (offset === undefined) return ''
  const pos = lineCounter.linePos(offset)
  return `:${pos.line}:${pos.col}`
}

/** The offending line of a YAML file and the one before it, with a caret under the column; secret-looking values masked. */
function excerpt(text: string, pos: { line: number; col: number }): string {
  const lines = text.split(/\r?\n/)
  const out: string[] = []
  const width = String(pos.line).length
  for (let n = Math.max(1, pos.line - 1); n <= pos.line; n++) {
    out.push(`  ${String(n).padStart(width)} | ${maskLine(lines[n - 1] ?? '')}`)
  }
  out.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, pos.col - 1))}^`)
  return out.join('\n')
}

const SECRET_KEYS = new Set(OPTIONS.filter((o) => o.type === 'secret').map((o) => o.path.split('.').at(-1)))

/** Hides a secret key's inline value and any long token-like run, keeping the columns where they are. */
function maskLine(line: string): string {
  const keyed = /^(\s*-?\s*["']?)([A-Za-z]+)(["']?\s*:\s*)(.*)$/.exec(line)
  let out = line
  if (keyed && SECRET_KEYS.has(keyed[2]) && !/^\{/.test(keyed[4] as string)) {
    out = `${keyed[1]}${keyed[2]}${keyed[3]}${(keyed[4] as string).replace(/\S/g, '*')}`
  }
  return out.replace(/[A-Za-z0-9_\-=+/]{32,}/g, (run) => '*'.repeat(run.length))
}
