// Against node-oidc-provider: outages of 5 s to 10 min; time from its return to the first 200, and its load meanwhile.
import t from 'tap'
import { FakeClock } from '../../src/shared/clock.js'
import { browserLogin, interopConfig, startIdp, startInteropProxy, startOac } from './idp.js'

for (const lengthS of [5, 30, 150, 600]) {
  t.test(`a ${lengthS} s outage: the first 200 comes within about a second of the return`, async (t) => {
    const clock = new FakeClock(Date.now())
    const idp = await startIdp(t, clock)
    const oac = await startOac(t, idp)
    const config = interopConfig(t, idp, oac, 'client_secret_basic')
    const store = await browserLogin(config, clock)
    const p = await startInteropProxy(t, config, clock, store)
    await clock.advance(45_000) // just before the refresh of the first token
    idp.fault = { kind: 'down' }
    const callsBefore = idp.tokenCalls.length
    let refused = 0
    for (let at = 0; at < lengthS * 1000; at += 1000) {
      await clock.advance(1000)
      const r = await p.get()
      if (r.status !== 200) {
        refused++
        t.equal(r.body.error, 'token_unavailable')
        t.equal(r.retryAfter, '1', 'Retry-After: the next attempt a request may start')
      }
    }
    const perMinute = ((idp.tokenCalls.length - callsBefore) * 60) / lengthS
    idp.fault = undefined
    let recoveryMs = -1
    for (let waited = 0; waited <= 5000; waited += 100) {
      if ((await p.get()).status === 200) {
        recoveryMs = refused > 0 ? waited : 0
        break
      }
      await clock.advance(100)
    }
    t.comment(
      `outage ${lengthS} s: ${refused} refused, first 200 ${recoveryMs} ms after the return, ${perMinute.toFixed(1)} IdP calls/min`,
    )
    t.ok(recoveryMs >= 0 && recoveryMs <= 1000, `first 200 ${recoveryMs} ms after the identity provider came back`)
    t.ok(perMinute <= 62, `bounded load on the identity provider (${perMinute.toFixed(1)} calls/min)`)
    if (lengthS <= 30) t.equal(refused, 0, 'nothing refused while the token lasted')
    await p.proxy.manager.settled()
    t.equal(p.proxy.manager.health, 'valid')
    t.equal(oac.refused, 0, 'no expired or invalid token reached OAC')
    t.equal(
      idp.tokenCalls.filter((c) => c.grantType === 'refresh_token' && c.status >= 400).length,
      0,
      'no refresh token was refused (no reuse)',
    )
  })
}
