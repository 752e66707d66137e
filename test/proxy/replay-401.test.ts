// An upstream 401 forces one refresh and one replay when the request can be sent again.
import t from 'tap'
import { request } from 'undici'
import { FakeClock, startStack } from '../helpers.js'

/** The identity provider and OAC run 10 min ahead of the proxy: the proxy's token is already expired upstream. */
async function skewedStack(t: Parameters<typeof startStack>[0], env: Record<string, string> = {}) {
  const simClock = new FakeClock()
  const proxyClock = new FakeClock(simClock.now())
  const s = await startStack(t, { clock: simClock, proxyClock, env })
  await simClock.advance(10 * 60 * 1000)
  return s
}

t.test('GET answered 401 is replayed once with a refreshed token', async (t) => {
  const s = await skewedStack(t)
  const before = s.sim.stats().refreshGrants
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 200)
  t.same(res.json(), { items: [] })
  t.equal(s.sim.stats().refreshGrants, before + 1, 'exactly one extra refresh')
  const oac = s.sim.calls.filter((c) => c.server === 'oac').map((c) => [c.status, c.tokenState])
  t.same(oac, [
    [401, 'expired'],
    [200, 'valid'],
  ])
  t.equal(s.proxy.server.counters.replays, 1)
  t.equal(res.headers['www-authenticate'], undefined, 'no header of the 401 leaks into the replayed answer')
  t.equal(s.logs.events('upstream.replayed_after_401').length, 1)
})

t.test('a small POST body is buffered and replayed byte for byte', async (t) => {
  const s = await skewedStack(t)
  const payload = Buffer.alloc(50_000, 'x')
  const res = await request(`${s.url}/api/20210901/sim/echo`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: payload,
  })
  t.equal(res.statusCode, 200)
  const echo = (await res.body.json()) as { bodyBytes: number; method: string }
  t.equal(echo.bodyBytes, payload.length)
  t.equal(echo.method, 'POST')
  t.same(
    s.sim.calls.filter((c) => c.server === 'oac').map((c) => c.status),
    [401, 200],
  )
})

t.test('a JSON body is replayed unchanged', async (t) => {
  const s = await skewedStack(t)
  const res = await request(`${s.url}/api/20210901/snapshots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'CREATE', name: 'replayed', password: 'Pw-12345678' }),
  })
  t.equal(res.statusCode, 202)
  t.type(((await res.body.json()) as { workRequestId: string }).workRequestId, 'string')
})

t.test('a body over the replay limit streams and the 401 is passed on, then the token is renewed', async (t) => {
  const s = await skewedStack(t, { OAC_PROXY_PROXY_REPLAY_BODY_LIMIT_BYTES: '1000' })
  const before = s.sim.stats().refreshGrants
  const res = await request(`${s.url}/api/20210901/sim/echo`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(5000, 'y'),
  })
  t.equal(res.statusCode, 401)
  t.match(res.headers['www-authenticate'], /invalid_token/)
  await res.body.dump()
  await s.proxy.manager.settled()
  t.equal(s.sim.stats().refreshGrants, before + 1, 'the rejected token was replaced for the next caller')
  const next = await s.get('/api/20210901/snapshots')
  t.equal(next.status, 200)
  t.equal(s.proxy.server.counters.replays, 0)
})

t.test('a request is replayed at most once', async (t) => {
  const s = await startStack(t)
  s.sim.faults.oac.next({ kind: 'status', status: 401 }, 2)
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 401, 'second 401 goes back to the caller')
  t.equal(s.sim.calls.filter((c) => c.server === 'oac').length, 2)
  t.equal(s.proxy.server.counters.replays, 1)
})
