// A client that aborts its upload: logged as a client abort at debug, counted, never an internal error.
import t from 'tap'
import { connect } from 'node:net'
import { request } from 'undici'
import { startStack, waitFor, type Stack } from '../helpers.js'

/** Sends the head and part of a declared body, then resets the connection. */
async function abortUpload(s: Stack, declared: number, sent: number, chunked = false): Promise<void> {
  const socket = connect(s.proxy.port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  const head =
    `POST /api/20210901/snapshots HTTP/1.1\r\nHost: 127.0.0.1:${s.proxy.port}\r\nContent-Type: application/json\r\n` +
    (chunked ? 'Transfer-Encoding: chunked\r\n\r\n' : `Content-Length: ${declared}\r\n\r\n`)
  socket.write(head)
  socket.write(chunked ? `${sent.toString(16)}\r\n${'x'.repeat(sent)}\r\n` : 'x'.repeat(sent))
  await new Promise((r) => setTimeout(r, 150))
  socket.resetAndDestroy()
  await new Promise((r) => setTimeout(r, 150))
}

t.test('aborted uploads are client aborts, not internal errors', async (t) => {
  const s = await startStack(t)
  const cases: Array<[string, number, number, boolean]> = [
    ['small buffered body', 1000, 10, false],
    ['large streamed body', 900 * 1024, 256 * 1024, false],
    ['chunked body', 0, 1000, true],
    ['large chunked body', 0, 2 * 1024 * 1024, true],
  ]
  for (const [, declared, sent, chunked] of cases) await abortUpload(s, declared, sent, chunked)
  await waitFor(() => s.logs.events('request.client_aborted').length >= cases.length, 3000, 'the abort lines')
  t.same(s.logs.events('proxy.internal_error'), [], 'no internal error logged')
  t.same(
    s.logs.lines.filter((l) => l.level === 'error'),
    [],
    'nothing at error level',
  )
  const aborted = s.logs.events('request.client_aborted')
  t.equal(aborted.length, cases.length, 'one line per aborted upload')
  t.ok(
    aborted.every((l) => l.level === 'debug'),
    'logged at debug',
  )
  const metrics = await request(`${s.url}/-/metrics`)
  const text = await metrics.body.text()
  t.match(text, new RegExp(`oac_proxy_client_aborts_total\\{route="/"\\} ${cases.length}`))
  const status = (await s.get('/-/status')).json() as { counters: { clientAborts: number } }
  t.equal(status.counters.clientAborts, cases.length)
  t.equal((await s.get('/api/20210901/snapshots')).status, 200, 'the proxy still serves')
})
