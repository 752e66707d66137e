// Upstream failures map to 502/504 with a stable code and a JSON body that holds no token.
import t from 'tap'
import { startStack } from '../helpers.js'

t.test('upstream refusing connections: 502 upstream_unreachable', async (t) => {
  const s = await startStack(t, { env: { OAC_PROXY_OAC_URL: 'http://127.0.0.1:1' } })
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 502)
  t.same(res.json(), {
    error: 'upstream_unreachable',
    message: 'upstream 127.0.0.1:1 could not be reached (ECONNREFUSED)',
    hint: 'Check oacUrl, DNS, the network and any HTTPS_PROXY setting.',
  })
  t.same(s.leakedSecrets(), [])
})

t.test('upstream resetting the connection: 502 upstream_unreachable', async (t) => {
  const s = await startStack(t)
  s.sim.faults.oac.next({ kind: 'reset' })
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 502)
  t.equal((res.json() as { error: string }).error, 'upstream_unreachable')
})

t.test('upstream not answering in time: 504 upstream_timeout', async (t) => {
  const s = await startStack(t, { env: { OAC_PROXY_PROXY_UPSTREAM_TIMEOUT_SECONDS: '0.3' } })
  s.sim.faults.oac.next({ kind: 'hang' })
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 504)
  const body = res.json() as { error: string; message: string }
  t.equal(body.error, 'upstream_timeout')
  t.match(body.message, /did not answer in time/)
})

t.test('upstream 5xx answers are passed through unchanged, not retried', async (t) => {
  const s = await startStack(t)
  s.sim.faults.oac.next({ kind: 'status', status: 503, body: 'maintenance' })
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 503)
  t.equal(res.body, 'maintenance')
  t.equal(s.sim.calls.filter((c) => c.server === 'oac').length, 1)
})
