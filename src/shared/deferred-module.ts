// A CommonJS package answered from Node's CommonJS cache (require.cache, which Node documents as writable) by a
// stand-in, so that packages requiring it do not load all of it: the stand-in gives what the proxy needs and
// loads the real package only on first use of anything else.
import { createRequire } from 'node:module'

type Exports = Record<string | symbol, unknown>

/**
 * Puts `standIn(loadReal)` in the module cache for the resolved file `file`; `loadReal` loads the real module
 * past it (once). Nothing happens when the file is loaded already (the real module stays).
 */
export function cacheStandIn(file: string, standIn: (loadReal: () => Exports) => object): void {
  const require = createRequire(file)
  if (require.cache[file]) return
  let real: Exports | undefined
  const loadReal = (): Exports => {
    if (real) return real
    const entry = require.cache[file]
    delete require.cache[file]
    try {
      real = require(file) as Exports
    } finally {
      if (entry) require.cache[file] = entry
    }
    return real
  }
  const Module = require('node:module') as typeof import('node:module')
  const entry = new Module(file)
  entry.filename = file
  entry.loaded = true
  entry.exports = standIn(loadReal)
  require.cache[file] = entry
}

/**
 * Defers `specifier` as resolved from `from` (a file path or URL of the package that requires it): a package
 * required at load but used only in a case the proxy never enables loads at its first property access.
 */
export function deferCommonJs(specifier: string, from: string | URL): void {
  let file: string
  try {
    file = createRequire(from).resolve(specifier)
  } catch {
    return // not installed where it would be required: nothing to defer
  }
  cacheStandIn(
    file,
    (load) =>
      new Proxy(
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
      ),
  )
}
