// What the built CLI loads: each command's logic and the simulator load only for the command that needs them.
import t from 'tap'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import { CLI } from '../helpers.js'
import { busyPort, tempFolder } from '../helpers/cli-run.js'
import { freePort } from '../helpers/redis-server.js'

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url))

/**
 * A module hook that names every file of dist/ the process loads, one line each on stderr. registerHooks runs in the
 * process itself (the async hooks of module.register run on another thread, whose writes may be lost at exit); Node
 * before 22.15 has only module.register, used there.
 */
const LOAD =
  'function load(url, context, next) {' +
  " if (url.includes('/dist/') || url.includes('/node_modules/')) process.stderr.write('module.loaded ' + url + '\\n');" +
  ' return next(url, context) }'
const REGISTER =
  "import * as m from 'node:module';" +
  " process.on('exit', () => process.stderr.write('node.bundled-undici ' + process.moduleLoadList.some((x) => x.includes('deps/undici')) + '\\n'));" +
  ` if (m.registerHooks) m.registerHooks({ load: ${LOAD} });` +
  ` else m.register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(`export async ${LOAD}`)}))`

/** Runs the CLI with the hook; resolves the dist/ files it loaded (relative paths) and its exit code. */
function loadedBy(
  args: string[],
  cwd?: string,
): Promise<{ code: number; modules: string[]; nodeBundledUndici: boolean }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, CLI, ...args],
      { env: { PATH: process.env.PATH ?? '' }, timeout: 30_000, killSignal: 'SIGKILL', ...(cwd ? { cwd } : {}) },
      (err, _stdout, stderr) => {
        const modules = [...stderr.matchAll(/^module\.loaded (\S+)$/gm)].map((m) =>
          relative(DIST, fileURLToPath(m[1] as string)),
        )
        resolve({
          code: err ? Number(err.code) : 0,
          modules,
          nodeBundledUndici: /^node\.bundled-undici true$/m.test(stderr),
        })
      },
    )
  })
}

const LOGIC = ['cli/login.js', 'cli/token.js', 'cli/status.js', 'cli/doctor.js', 'cli/demo.js']

t.test('serve loads the proxy, not the simulator nor the logic of the other commands', async (t) => {
  // no configuration: serve stops at its config check, after everything it imports at start is loaded
  const r = await loadedBy(['serve'])
  t.equal(r.code, 2)
  t.ok(r.modules.includes('cli/serve-command.js') && r.modules.includes('app/run.js'), 'the hook sees the loads')
  t.same(
    r.modules.filter((m) => m.startsWith('simulator/') || LOGIC.includes(m)),
    [],
  )
})

t.test('a bad demo flag is refused before the simulator loads', async (t) => {
  const r = await loadedBy(['demo', '--port', 'x'])
  t.equal(r.code, 2)
  t.same(
    r.modules.filter((m) => m.startsWith('simulator/')),
    [],
  )
})

t.test('demo --check loads the simulator', async (t) => {
  const r = await loadedBy(['demo', '--check', '--port', '0'])
  t.equal(r.code, 0)
  t.ok(r.modules.includes('simulator/index.js'))
  t.ok(r.modules.includes('cli/demo.js'))
})

/** The Redis store's modules and its client (node_modules/@redis/... files are seen as ../node_modules/...). */
const isRedis = (m: string): boolean => m.startsWith('token/store/redis/') || m.includes('@redis/')

/** A configuration for an identity domain nobody answers, listening on `port`; with `store` when given. */
function writeConfig(dir: string, port: number, store?: Record<string, unknown>): string {
  writeFileSync(join(dir, 'secret'), 'lazy-load-secret', { mode: 0o600 })
  writeFileSync(join(dir, 'refresh'), 'lazy-load-refresh', { mode: 0o600 })
  const path = join(dir, 'config.yaml')
  const config = {
    oacUrl: 'http://127.0.0.1:9/oac',
    idcsUrl: 'http://127.0.0.1:9',
    clientId: 'lazy',
    clientSecret: { file: 'secret' },
    refreshToken: { file: 'refresh' },
    scope: 'urn:opc:resource:consumer::all offline_access',
    stateFile: 'state.json',
    listen: { port },
    ...(store ? { store } : {}),
  }
  writeFileSync(path, stringify(config), { mode: 0o600 })
  return path
}

t.test('serve without a store loads neither the Redis store nor its client', async (t) => {
  const dir = tempFolder(t)
  // a busy port: serve stops at listen, after the state store, managers and server are loaded
  const r = await loadedBy(['serve', '--config', writeConfig(dir, await busyPort(t))], dir)
  t.equal(r.code, 1)
  t.ok(r.modules.includes('token/store/file.js') && r.modules.includes('app/run.js'), 'serve got as far as listening')
  t.same(r.modules.filter(isRedis), [])
})

t.test('a command on a store loads the Redis store and its client (the check above can fail)', async (t) => {
  const dir = tempFolder(t)
  // nothing listens there: status fails to connect, after the store and its client are loaded
  const port = await freePort()
  const r = await loadedBy(
    [
      'status',
      '--config',
      writeConfig(dir, 0, { url: `redis://127.0.0.1:${port}`, encryption: 'none', connectTimeoutSeconds: 0.5 }),
    ],
    dir,
  )
  t.not(r.code, 0)
  t.ok(r.modules.some((m) => m.startsWith('token/store/redis/')))
  t.ok(r.modules.some((m) => m.includes('@redis/client')))
})

t.test("serve loads undici's dispatchers only, neither Node's bundled undici nor jose", async (t) => {
  const dir = tempFolder(t)
  const r = await loadedBy(['serve', '--config', writeConfig(dir, await busyPort(t))], dir)
  t.equal(r.code, 1)
  t.ok(r.modules.includes('net/undici.js'), 'serve got as far as the upstream agent')
  t.ok(r.modules.includes('../node_modules/undici/lib/dispatcher/agent.js'), 'the hook sees node_modules')
  // fetch, WebSocket, EventSource, the caches and the mocks: undici's entry loads them, the proxy does not
  t.same(
    r.modules.filter((m) => /node_modules\/undici\/(index\.js|lib\/(web|mock|cache)\/)/.test(m)),
    [],
  )
  t.same(
    r.modules.filter((m) => m.includes('node_modules/jose/')),
    [],
    'jose loads only to sign assertions',
  )
  // an ES import of node:http reads its WebSocket getter, which loads Node's own copy of undici
  t.equal(r.nodeBundledUndici, false, "Node's bundled undici is not loaded")
})

t.test('demo loads jose, for the simulator signs its tokens (the check above can fail)', async (t) => {
  const r = await loadedBy(['demo', '--check', '--port', '0'])
  t.equal(r.code, 0)
  t.ok(r.modules.some((m) => m.includes('node_modules/jose/')))
})
