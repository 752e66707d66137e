// undici without what the proxy never uses. The package's entry (undici/index.js) loads fetch, WebSocket,
// EventSource, the cache stores, cookies and the mock agents as well: 110 modules, about 8 MB of resident
// memory and a tenth of the start-up. The proxy needs the dispatchers and `request`, which come here from
// their own files. The entry is then put in Node's CommonJS cache (require.cache, which Node documents as
// writable) as an object holding those, so that @fastify/reply-from's require('undici') gets the very same
// classes without loading the rest; any other name on it loads the full entry on first use.
// Every runtime import of undici in src/ goes through this file (test/net/undici.test.ts checks it).
import { createRequire } from 'node:module'
import type * as Undici from 'undici'
import { cacheStandIn } from '../shared/deferred-module.js'

const require = createRequire(import.meta.url)
const ENTRY = require.resolve('undici')

type Lib = typeof Undici
const lib = <T>(path: string): T => require(`undici/lib/${path}`) as T

const Dispatcher = lib<Lib['Dispatcher']>('dispatcher/dispatcher.js')
const api = lib<Record<string, unknown>>('api/index.js')
// what undici's entry does first: every dispatcher gets request, stream, pipeline, connect and upgrade
Object.assign(Dispatcher.prototype, api)
const { InvalidArgumentError } = lib<Lib['errors']>('core/errors.js')
const { getGlobalDispatcher, setGlobalDispatcher } =
  lib<Pick<Lib, 'getGlobalDispatcher' | 'setGlobalDispatcher'>>('global.js')

export const Agent = lib<Lib['Agent']>('dispatcher/agent.js')
export const Pool = lib<Lib['Pool']>('dispatcher/pool.js')
export const Client = lib<Lib['Client']>('dispatcher/client.js')
export const EnvHttpProxyAgent = lib<Lib['EnvHttpProxyAgent']>('dispatcher/env-http-proxy-agent.js')
export { Dispatcher, getGlobalDispatcher, setGlobalDispatcher }

type RequestOptions = { dispatcher?: Undici.Dispatcher } & Omit<
  Undici.Dispatcher.RequestOptions<null>,
  'origin' | 'path' | 'method'
> &
  Partial<Pick<Undici.Dispatcher.RequestOptions, 'method'>>

/** undici's `request(url, options)`: the same checks and defaults as the package's entry, for a string or URL. */
export function request(
  url: string | URL,
  options: RequestOptions = {},
): Promise<Undici.Dispatcher.ResponseData<null>> {
  if (typeof url !== 'string' && !(url instanceof URL)) throw new InvalidArgumentError('invalid url')
  const parsed = new URL(url)
  const { dispatcher = getGlobalDispatcher(), ...rest } = options
  return dispatcher.request({
    ...rest,
    origin: parsed.origin,
    path: parsed.search ? `${parsed.pathname}${parsed.search}` : parsed.pathname,
    method: options.method ?? (options.body ? 'PUT' : 'GET'),
  })
}

/**
 * What require('undici') answers: the dispatchers above as plain properties; the other dispatcher classes (which
 * @fastify/reply-from tests requests against, e.g. `instanceof undici.BalancedPool` on every request) from their
 * own files on first use; any other name from the full entry, through the prototype.
 */
function slimExports(loadFull: () => Record<string | symbol, unknown>): Record<string, unknown> {
  const exports: Record<string, unknown> = Object.create(
    new Proxy({}, { get: (_target, name) => (typeof name === 'string' ? loadFull()[name] : undefined) }),
  )
  Object.assign(exports, {
    Dispatcher,
    Agent,
    Pool,
    Client,
    EnvHttpProxyAgent,
    getGlobalDispatcher,
    setGlobalDispatcher,
    request,
    errors: lib<Lib['errors']>('core/errors.js'),
  })
  const own: Record<string, string> = {
    BalancedPool: 'dispatcher/balanced-pool.js',
    RoundRobinPool: 'dispatcher/round-robin-pool.js',
    ProxyAgent: 'dispatcher/proxy-agent.js',
    RetryAgent: 'dispatcher/retry-agent.js',
  }
  for (const [name, path] of Object.entries(own)) {
    Object.defineProperty(exports, name, {
      enumerable: true,
      configurable: true,
      get() {
        const value = lib(path)
        Object.defineProperty(exports, name, { value, enumerable: true })
        return value
      },
    })
  }
  return exports
}

// The package's real entry loads past the stand-in, reusing the dispatcher files loaded above; a process that
// loaded it already (a test importing undici itself) keeps it.
cacheStandIn(ENTRY, slimExports)
