// A CommonJS package that another package requires at load but uses only in a case the proxy never enables.
// Its entry is put in Node's CommonJS cache (require.cache, which Node documents as writable) as a stand-in
// whose first property access loads the real package; until then nothing of it is loaded.
import { createRequire } from 'node:module'

/** Defers `specifier` as resolved from `from` (a file path or URL of the package that requires it). */
export function deferCommonJs(specifier: string, from: string | URL): void {
  const require = createRequire(from)
  let file: string
  try {
    file = require.resolve(specifier)
  } catch {
    return // not installed where it would be required: nothing to defer
  }
  if (require.cache[file]) return // already loaded: keep it
  let real: Record<string | symbol, unknown> | undefined
  const load = (): Record<string | symbol, unknown> => {
    if (real) return real
    delete require.cache[file]
    try {
      real = require(file) as Record<string | symbol, unknown>
    } finally {
      require.cache[file] = entry
    }
    return real
  }
  const Module = require('node:module') as typeof import('node:module')
  const entry = new Module(file)
  entry.filename = file
  entry.loaded = true
  entry.exports = new Proxy(
    {},
    {
      get: (_target, name) => load()[name],
      has: (_target, name) => name in load(),
      ownKeys: () => Reflect.ownKeys(load()),
      getOwnPropertyDescriptor: (_target, name) => {
        const d = Object.getOwnPropertyDescriptor(load(), name)
        return d ? { ...d, configurable: true } : undefined
      },
    },
  )
  require.cache[file] = entry
}
