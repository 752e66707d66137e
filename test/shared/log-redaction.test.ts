// No token, refresh token or client secret ever reaches the log, whatever happens during a run.
import t from 'tap'
import { request } from 'undici'
import { OAuthError } from '../../src/shared/errors.js'
import { FakeClock, LogCapture, leaks, secretsOf, startStack } from '../helpers.js'

t.test('a run through refreshes, replays, IdP faults and upstream errors logs no secret', async (t) => {
  const simClock = new FakeClock()
  const proxyClock = new FakeClock(simClock.now())
  const s = await startStack(t, { clock: simClock, proxyClock, random: () => 0 })
  const tick = async (ms: number): Promise<void> => {
    await Promise.all([simClock.advance(ms), proxyClock.advance(ms)])
    await s.proxy.manager.settled()
  }
  const call = async (init: Parameters<typeof request>[1] = {}): Promise<number> => {
    const res = await request(`${s.url}/api/20210901/sim/echo`, init)
    await res.body.dump()
    return res.statusCode
  }
  const statuses: number[] = []
  statuses.push(await call({ headers: { authorization: 'Bearer caller-supplied-value' } }))
  // identity-provider faults on successive refreshes
  for (const fault of [
    { kind: 'rate_limit', retryAfterS: 1 },
    { kind: 'malformed' },
    { kind: 'status', status: 500, body: 'oops' },
    { kind: 'reset' },
  ] as const) {
    s.sim.faults.idcs.next(fault)
    await tick(50_000)
    statuses.push(await call())
    await tick(5_000)
  }
  // upstream 401 and replay: the identity provider's clock runs ahead
  await simClock.advance(200_000)
  statuses.push(await call({ method: 'POST', body: 'hello' }))
  // upstream failures
  s.sim.faults.oac.next({ kind: 'reset' })
  statuses.push(await call())
  // finally the refresh token is rejected
  s.sim.faults.idcs.next({ kind: 'invalid_grant' })
  await tick(60_000)
  await tick(60_000)
  statuses.push(await call())

  t.ok(s.logs.events('token.refreshed').length >= 3, 'refreshes were logged')
  t.ok(s.logs.events('token.refresh_failed').length >= 3, 'failures were logged')
  t.equal(s.logs.events('token.login_required').length, 1)
  t.ok(statuses.includes(200) && statuses.includes(502) && statuses.includes(503), `statuses: ${statuses.join(',')}`)
  t.ok(s.sim.issued.refreshTokens.length >= 4, 'several refresh tokens were issued')
  t.same(leaks(s.logs.text(), secretsOf(s.sim)), [], 'no secret in any log line')
  t.notOk(s.logs.text().includes('caller-supplied-value'), 'the caller header is not logged either')
})

t.test('redaction by path and by serializer', async (t) => {
  const logs = new LogCapture()
  const log = logs.logger()
  log.info(
    {
      headers: { authorization: 'Bearer AAA', cookie: 'c=BBB' },
      refreshToken: 'CCC',
      body: { refresh_token: 'DDD', access_token: 'EEE', client_secret: 'FFF' },
    },
    'x',
  )
  const jwtLike = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbmFseXN0In0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl'
  log.error({ err: new OAuthError('invalid_request', 400, `bad token ${jwtLike}`) }, 'failed')
  const text = logs.text()
  t.same(leaks(text, ['AAA', 'BBB', 'CCC', 'DDD', 'EEE', 'FFF', jwtLike]), [])
  t.equal((logs.lines[0]?.headers as Record<string, string>).authorization, '[redacted]')
  t.match((logs.lines[1]?.err as { message: string }).message, /\[redacted\]/)
})
