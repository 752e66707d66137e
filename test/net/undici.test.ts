// net/undici.ts: undici's dispatchers without the rest of the package, and the same classes for require('undici').
import t from 'tap'
import { createRequire } from 'node:module'
import { readFileSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Agent, Pool, request } from '../../src/net/undici.js'
import { startSimulator } from '../../src/simulator/index.js'

const require = createRequire(import.meta.url)
const SRC = fileURLToPath(new URL('../../src/', import.meta.url))

const loadedWeb = (): boolean => Object.keys(require.cache).some((k) => k.includes('/undici/lib/web/'))

t.test("require('undici') after it gives the same classes, and the rest of undici on first use", async (t) => {
  const undici = require('undici') as Record<string, unknown>
  t.equal(undici.Agent, Agent)
  t.equal(undici.Pool, Pool)
  // reply-from tests every request against BalancedPool: the other dispatcher classes come from their own files
  t.equal(undici.BalancedPool, require('undici/lib/dispatcher/balanced-pool.js'))
  t.equal(undici.ProxyAgent, require('undici/lib/dispatcher/proxy-agent.js'))
  t.equal(loadedWeb(), false, 'fetch and WebSocket are not loaded')
  t.type(undici.fetch, 'function', 'a name outside the dispatchers loads the full entry')
  t.equal(loadedWeb(), true)
  t.equal(undici.Agent, Agent, 'and the dispatchers stay the same classes')
  t.equal((require('undici') as Record<string, unknown>).Agent, Agent)
})

t.test('request sends to the URL with the given dispatcher, like undici.request', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const agent = new Agent()
  t.teardown(() => agent.close())
  const jwks = await request(`${sim.idcsUrl}/admin/v1/SigningCert/jwk?x=1`, { dispatcher: agent })
  t.equal(jwks.statusCode, 200)
  t.ok(Array.isArray(((await jwks.body.json()) as { keys?: unknown }).keys))
  const token = await request(new URL(`${sim.idcsUrl}/oauth2/v1/token`), {
    dispatcher: agent,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=nope',
  })
  t.equal(token.statusCode >= 400 && token.statusCode < 500, true, 'the POST and its body reached the token endpoint')
  t.match(await token.body.json(), { error: String })
  t.throws(() => request(42 as unknown as string), { code: 'UND_ERR_INVALID_ARG' })
})

/** Every .ts file under src/. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
}

t.test(
  'runtime imports of undici, node:http, jose and prom-client go through the files that keep them small',
  async (t) => {
    const allowed: Record<string, string[]> = {
      undici: ['net/undici.ts'],
      'node:http': ['shared/node-http.ts'],
      jose: ['oauth/assertion.ts'],
      'prom-client': ['admin/prom-client.ts'],
    }
    const found: string[] = []
    for (const file of sources(SRC)) {
      const rel = relative(SRC, file)
      if (rel.startsWith('simulator/')) continue // the simulator loads only for demo and simulate
      const text = readFileSync(file, 'utf8')
      for (const m of text.matchAll(/^import (?!type )[^;]*? from '([^']+)'/gm)) {
        const what = m[1] as string
        if (what in allowed && !allowed[what]?.includes(rel)) found.push(`${rel}: ${what}`)
      }
    }
    t.same(found, [], 'value imports outside the allowed files')
  },
)

/** Prints, as the proxy exits, whether undici's fetch half or Node's bundled undici were ever loaded. */
const REPORT_AT_EXIT =
  'import { createRequire } from "node:module"; const r = createRequire("/report-at-exit.js");' +
  ' process.on("exit", () => process.stdout.write(JSON.stringify({ event: "test.undici",' +
  ' web: Object.keys(r.cache).some((k) => k.includes("/undici/lib/web/")),' +
  ' nodeBundled: process.moduleLoadList.some((x) => x.includes("deps/undici")) }) + "\\n"))'

t.test("proxied requests never load undici's fetch half nor Node's bundled undici", async (t) => {
  // test/helpers.ts imports undici itself (its whole entry): loaded only now, after the in-process checks above
  const { spawnProxy, writeSimConfig } = await import('../helpers.js')
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const dir = t.testdir()
  const proxy = await spawnProxy(t, await writeSimConfig(dir, sim), {}, [
    '--import',
    `data:text/javascript,${encodeURIComponent(REPORT_AT_EXIT)}`,
  ])
  const agent = new Agent()
  t.teardown(() => agent.close())
  for (const path of ['/api/20210901/catalog', '/api/20210901/workbooks/w/exports/e?bytes=200000']) {
    const res = await request(proxy.url + path, { dispatcher: agent })
    await res.body.dump()
    t.equal(res.statusCode, 200, path)
  }
  proxy.child.kill('SIGTERM')
  await proxy.exited
  t.same(
    proxy.lines.find((l) => l.event === 'test.undici'),
    { event: 'test.undici', web: false, nodeBundled: false },
  )
})
