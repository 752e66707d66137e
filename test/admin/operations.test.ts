// Operations: readiness needs time left, the token file, the separate admin listener, request log lines, log format.
import t from 'tap'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { wantsPretty } from '../../src/shared/log.js'
import { FakeClock, registerSecret, startStack } from '../helpers.js'

t.test('readyz needs a token with at least readyMinRemainingSeconds left', async (t) => {
  const clock = new FakeClock()
  const s = await startStack(t, { clock, env: { OAC_PROXY_LOGIN_HEADLESS: 'false' } })
  s.sim.faults.idcs.always({ kind: 'reset' }) // no renewals from now on
  t.equal((await s.get('/-/readyz')).status, 200)
  clock.jumpWallClock(85_000) // 15 s left (monotonic still says 100): the wall clock is the stricter one here
  t.equal((await s.get('/-/readyz')).status, 200, '15 s left')
  clock.jumpWallClock(6_000) // 9 s left
  const ready = await s.get('/-/readyz')
  t.equal(ready.status, 503, '9 s left is not enough')
  t.equal((await s.get('/-/healthz')).status, 200, 'liveness never depends on the identity domain')
})

t.test('tokenFile holds the current access token, mode 0600, renewed with every refresh', async (t) => {
  const clock = new FakeClock()
  const s = await startStack(t, { clock, random: () => 0, file: { tokenFile: 'access-token' } })
  const path = join(s.dir, 'access-token')
  const { waitFor } = await import('../helpers.js')
  await waitFor(
    () => {
      try {
        return readFileSync(path, 'utf8') === s.sim.issued.accessTokens.at(-1)
      } catch {
        return false
      }
    },
    3000,
    'the first token in the file',
  )
  t.equal(statSync(path).mode & 0o777, 0o600)
  await clock.advance(50_000)
  await s.proxy.manager.settled()
  await waitFor(() => readFileSync(path, 'utf8') === s.sim.issued.accessTokens.at(-1), 3000, 'the renewed token')
  t.equal(s.sim.issued.accessTokens.length, 2)
  t.same(s.leakedSecrets(), [], 'the token file path is logged, never its content')
})

t.test('admin endpoints on their own port: not on the proxy port, and no local key needed there', async (t) => {
  const key = 'k'.repeat(40)
  registerSecret(key)
  const s = await startStack(t, {
    files: () => ({ keys: `${key}\n` }),
    file: { admin: { port: 0 }, security: { localKeysFile: 'keys' } },
  })
  t.not(s.proxy.adminUrl, s.proxy.url)
  const onProxy = await s.get('/-/status', { authorization: `Bearer ${key}` })
  t.equal(onProxy.status, 404)
  t.equal((onProxy.json() as { error: string }).error, 'admin_not_found')
  const status = await request(`${s.proxy.adminUrl}/-/status`)
  t.equal(status.statusCode, 200, 'no key on the admin listener')
  await status.body.dump()
  const page = await request(`${s.proxy.adminUrl}/-/`)
  t.equal(page.statusCode, 200)
  await page.body.dump()
  const api = await request(`${s.proxy.adminUrl}/api/20210901/snapshots`)
  t.equal(api.statusCode, 404, 'the admin listener forwards nothing')
  await api.body.dump()
  t.equal((await s.get('/api/20210901/snapshots', { authorization: `Bearer ${key}` })).status, 200)
  t.equal(s.sim.stats().oacRequests, 1)
})

t.test('/-/token needs the admin key', async (t) => {
  const s = await startStack(t)
  const res = await s.get('/-/token')
  t.equal(res.status, 401)
  t.equal((res.json() as { error: string }).error, 'local_key_required')
})

t.test('one log line per request, without the query string', async (t) => {
  const s = await startStack(t)
  await s.get('/api/20210901/snapshots?access_token=SECRET-IN-QUERY&x=1')
  const lines = s.logs.events('request.completed')
  t.equal(lines.length, 1)
  t.match(lines[0], { method: 'GET', path: '/api/20210901/snapshots', status: 200 })
  t.type(lines[0]?.durationMs, 'number')
  t.notOk(s.logs.text().includes('SECRET-IN-QUERY'))
})

t.test('request lines can be turned off', async (t) => {
  const s = await startStack(t, { env: { OAC_PROXY_LOG_REQUESTS: 'false' } })
  await s.get('/api/20210901/snapshots')
  t.equal(s.logs.events('request.completed').length, 0)
})

t.test('log format: pretty on a terminal, JSON otherwise, unless forced', async (t) => {
  t.equal(wantsPretty('auto', true), true)
  t.equal(wantsPretty('auto', false), false)
  t.equal(wantsPretty('json', true), false)
  t.equal(wantsPretty('pretty', false), true)
})
