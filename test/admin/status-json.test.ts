// /-/status: every time a whole epoch millisecond with its ISO string; the token's scope beside the configured scope.
import t from 'tap'
import { startStack } from '../helpers.js'
import { renderStatusPage } from '../../src/admin/status-page.js'

type Json = Record<string, unknown>

/** Every `...Ms` number in `value` (nested), with its path. */
function msFields(value: unknown, path = ''): Array<[string, unknown]> {
  if (!value || typeof value !== 'object') return []
  const out: Array<[string, unknown]> = []
  for (const [k, v] of Object.entries(value as Json)) {
    const p = path ? `${path}.${k}` : k
    if (/Ms$/.test(k) || k === 'now') out.push([p, v])
    else out.push(...msFields(v, p))
  }
  return out
}

t.test('/-/status times are integers with ISO strings beside them', async (t) => {
  const stack = await startStack(t)
  const body = (await stack.get('/-/status')).json() as Json & { credentials: Json[] }
  const fields = msFields(body)
  t.ok(fields.length >= 6, 'several times')
  for (const [path, v] of fields) t.ok(Number.isInteger(v), `${path} is an integer (${String(v)})`)
  t.equal(body.nowAt, new Date(body.now as number).toISOString())
  t.equal(body.startedAt, new Date(body.startedAtMs as number).toISOString())
  const c = body.credentials[0] as Json
  for (const key of ['accessTokenExpiresAt', 'lastRefreshAt', 'nextRefreshAt', 'refreshTokenObtainedAt']) {
    t.equal(c[key], new Date(c[`${key}Ms`] as number).toISOString(), key)
  }
})

t.test('/-/status shows the scope in the token and the configured scope', async (t) => {
  const stack = await startStack(t)
  const c = ((await stack.get('/-/status')).json() as { credentials: Json[] }).credentials[0] as Json
  t.equal(c.configuredScope, stack.config.scope)
  t.type(c.scope, 'string')
  t.ok((c.scope as string).length > 0)
})

t.test('the status page shows both scopes and links to /-/status and /-/metrics', async (t) => {
  const page = renderStatusPage('n0nce')
  t.match(page, /href="\/-\/status"/)
  t.match(page, /href="\/-\/metrics"/)
  t.match(page, /'configuredScope', 'Scope \(configured\)'/)
  t.match(page, /'scope', 'Scope \(in the token\)'/)
})
