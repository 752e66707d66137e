// Recovery after identity-provider outages of 5 s to 10 min: time from its return to the first 200, and its load meanwhile.
import t, { type Test } from 'tap'
import { request } from 'undici'
import { FakeClock, startStack, type Stack } from '../helpers.js'

/** The outage begins just before the scheduled refresh of a fresh 100 s token (refreshed after 50 s). */
const OUTAGE_STARTS_AT_MS = 45_000
/** Callers during the outage: one request a second. After the return: one every 100 ms. */
const CALLER_EVERY_MS = 1000
const PROBE_EVERY_MS = 100

async function status(s: Stack): Promise<{ status: number; retryAfter: number | undefined }> {
  const res = await request(`${s.url}/api/20210901/snapshots`)
  await res.body.dump()
  const ra = res.headers['retry-after']
  return { status: res.statusCode, retryAfter: typeof ra === 'string' ? Number(ra) : undefined }
}

interface Outcome {
  failed: number
  /** ms from the identity provider's return to the first 200 after a refused request (0: none refused). */
  recoveryMs: number
  idpCallsPerMinute: number
  /** Retry-After values seen, with the time the next token call actually came. */
  retryAfterHonest: boolean
}

async function outage(t: Test, lengthMs: number, callers: boolean): Promise<Outcome> {
  {
    const clock = new FakeClock()
    const s = await startStack(t, { clock, random: () => 0 })
    await clock.advance(OUTAGE_STARTS_AT_MS)
    s.sim.faults.idcs.always({ kind: 'reset' })
    const callsBefore = s.sim.stats().tokenCalls
    let failed = 0
    let honest = true
    for (let at = 0; at < lengthMs; at += CALLER_EVERY_MS) {
      await clock.advance(CALLER_EVERY_MS)
      if (!callers) continue
      const r = await status(s)
      if (r.status === 200) continue
      failed++
      t.equal(r.status, 503)
      // Retry-After is when a request may start the next attempt: one a second while nothing is held
      if (r.retryAfter === undefined || r.retryAfter < 1 || r.retryAfter > 1) honest = false
    }
    const idpCallsPerMinute = ((s.sim.stats().tokenCalls - callsBefore) * 60_000) / lengthMs
    s.sim.faults.idcs.always(null)
    let recoveryMs = 0
    for (let waited = 0; ; waited += PROBE_EVERY_MS) {
      const r = await status(s)
      if (r.status === 200) {
        if (failed > 0 || !callers) recoveryMs = waited
        break
      }
      failed++
      if (waited > 120_000) break
      await clock.advance(PROBE_EVERY_MS)
    }
    await s.proxy.manager.settled()
    t.equal(s.sim.stats().staleRefreshTokenUses, 0, 'no refresh token was reused')
    t.equal(s.sim.stats().oacExpiredTokenRequests, 0, 'no expired token was forwarded')
    t.comment(
      `outage ${lengthMs / 1000} s, callers ${callers}: ${failed} refused, first 200 ${recoveryMs} ms after the return, ` +
        `${idpCallsPerMinute.toFixed(1)} IdP calls/min during it`,
    )
    return { failed, recoveryMs, idpCallsPerMinute, retryAfterHonest: honest }
  }
}

for (const lengthS of [5, 30, 150, 600]) {
  t.test(`a ${lengthS} s outage: served again within about a second of the return`, async (t) => {
    const r = await outage(t, lengthS * 1000, true)
    t.ok(r.recoveryMs <= 1000, `first 200 ${r.recoveryMs} ms after the identity provider came back`)
    t.ok(r.idpCallsPerMinute <= 62, `at most about one IdP call a second (${r.idpCallsPerMinute.toFixed(1)}/min)`)
    t.ok(r.retryAfterHonest, 'Retry-After was the time of the next possible attempt')
    if (lengthS <= 30) t.equal(r.failed, 0, 'an outage shorter than the token life refuses nothing')
  })
}

t.test(
  'a 10 min outage without callers: background retries back off, the first caller after it is served',
  async (t) => {
    const r = await outage(t, 600_000, false)
    t.ok(r.idpCallsPerMinute <= 4, `background retries back off (${r.idpCallsPerMinute.toFixed(1)} IdP calls/min)`)
    t.equal(r.recoveryMs, 0, 'the first request after the return is served')
  },
)
