// Slow upstream answers that hold every upstream slot: other callers get 503 upstream_busy after a bounded wait.
import t from 'tap'
import { request } from 'undici'
import { startStack } from '../helpers.js'

const API = '/api/20210901/snapshots'

t.test('with every slot held by a slow answer, a caller waits at most queueTimeoutSeconds', async (t) => {
  const s = await startStack(t, { file: { proxy: { connections: 2, queueTimeoutSeconds: 0.3 } } })
  s.sim.faults.oac.next({ kind: 'latency', ms: 1500 }, 2)
  const oacBefore = s.sim.stats().oacRequests
  const slow = [s.get(API), s.get(API)]
  await new Promise((r) => setTimeout(r, 200))
  const started = Date.now()
  const res = await request(`${s.url}${API}`)
  const waited = Date.now() - started
  const body = (await res.body.json()) as { error: string; message: string }
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '1')
  t.equal(body.error, 'upstream_busy')
  t.match(body.message, /all 2 upstream slots of route \/ stayed busy for 0\.3 s/)
  t.ok(waited >= 250 && waited < 1200, `answered after the queue wait, not the slow answer (${waited} ms)`)
  t.equal(s.sim.stats().oacRequests - oacBefore, 2, 'the refused caller never reached OAC')
  t.same(
    (await Promise.all(slow)).map((r) => r.status),
    [200, 200],
    'the slow answers complete',
  )
  // slots came back: requests pass again, and a queued one gets the next free slot
  s.sim.faults.oac.next({ kind: 'latency', ms: 150 }, 2)
  const again = await Promise.all([s.get(API), s.get(API), s.get(API)])
  t.same(
    again.map((r) => r.status),
    [200, 200, 200],
    'a caller queued behind short answers is served',
  )
  const status = (await s.get('/-/status')).json() as { counters: { upstreamBusy: number } }
  t.equal(status.counters.upstreamBusy, 1)
})
