// /-/metrics: Prometheus text with every documented metric, counting refreshes, upstream answers, replays and refusals.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { request } from 'undici'
import { METRIC_NAMES } from '../../src/admin/metrics.js'
import { FakeClock, startStack } from '../helpers.js'
import { rawRequest } from '../security/raw.js'

function value(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(line + ' '))
  return found === undefined ? undefined : Number(found.slice(line.length + 1))
}

t.test('metrics count what happened', async (t) => {
  const simClock = new FakeClock()
  const proxyClock = new FakeClock(simClock.now())
  const s = await startStack(t, { clock: simClock, proxyClock })
  t.equal((await s.get('/api/20210901/snapshots')).status, 200)
  await simClock.advance(10 * 60 * 1000) // OAC now sees the proxy's token as expired: one 401 + replay
  t.equal((await s.get('/api/20210901/snapshots')).status, 200)
  s.sim.faults.oac.next({ kind: 'reset' })
  t.equal((await s.get('/api/20210901/snapshots')).status, 502)
  await rawRequest(s.proxy.port, 'GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n')

  const res = await request(`${s.url}/-/metrics`)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const text = await res.body.text()
  for (const name of METRIC_NAMES) t.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exported`)
  t.equal(value(text, 'oac_proxy_token_refreshes_total{credential="default",result="success"}'), 2)
  t.equal(value(text, 'oac_proxy_upstream_requests_total{route="/",status="200"}'), 2)
  t.equal(value(text, 'oac_proxy_upstream_requests_total{route="/",status="401"}'), 1)
  t.equal(value(text, 'oac_proxy_upstream_requests_total{route="/",status="error"}'), 1)
  t.equal(value(text, 'oac_proxy_replays_total{route="/"}'), 1)
  t.equal(value(text, 'oac_proxy_refused_requests_total{code="host_not_allowed"}'), 1)
  t.equal(value(text, 'oac_proxy_credential_ready{credential="default"}'), 1)
  t.equal(value(text, 'oac_proxy_request_duration_seconds_count{route="/"}'), 3)
  const expiry = value(text, 'oac_proxy_access_token_expiry_seconds{credential="default"}') as number
  t.ok(expiry > 90 && expiry <= 100, `seconds until expiry: ${expiry}`)
  t.ok((value(text, 'oac_proxy_refresh_token_age_seconds{credential="default"}') as number) >= 0)
  t.match(text, /^oac_proxy_process_resident_memory_bytes \d+/m, 'process metrics too')
  t.match(
    text,
    /^oac_proxy_process_cpu_seconds_total [\d.e+-]+$/m,
    'with the CPU counter, whose module requires the deferred exemplars package',
  )
  t.notOk(text.includes(s.sim.issued.accessTokens[0] as string), 'no token in the metrics')
})

t.test('docs/metrics.md documents every metric', async (t) => {
  const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8')
  for (const name of METRIC_NAMES) t.match(doc, `\`${name}\``, name)
})
