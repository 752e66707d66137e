// A caller's upload that stops moving: answered 408 request_timeout after proxy.upstreamTimeoutSeconds, and its slot comes back.
import t from 'tap'
import { connect } from 'node:net'
import { rawRequest } from '../security/raw.js'
import { startStack, waitFor, type Stack } from '../helpers.js'

const API = '/api/20210901/snapshots'
const BODY = JSON.stringify({ type: 'CREATE', name: 'x', password: 'Pw-12345678' })

function head(s: Stack, length: number): string {
  return (
    `POST ${API} HTTP/1.1\r\nHost: 127.0.0.1:${s.proxy.port}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${length}\r\n\r\n`
  )
}

t.test('an upload that pauses longer than the limit is cut with 408 and frees its slot', async (t) => {
  const s = await startStack(t, {
    file: { proxy: { connections: 1, upstreamTimeoutSeconds: 0.5, queueTimeoutSeconds: 5 } },
  })
  const started = Date.now()
  // the head and a part of the body, then nothing: the only slot is held by this upload
  const stalled = rawRequest(s.proxy.port, head(s, BODY.length) + BODY.slice(0, 10), 5000)
  await new Promise((r) => setTimeout(r, 100))
  const other = s.get(API)
  const answer = await stalled
  const cutAfter = Date.now() - started
  t.equal(answer.status, 408)
  t.equal(answer.error, 'request_timeout')
  t.equal(answer.headers.connection, 'close')
  t.ok(cutAfter >= 450 && cutAfter < 3000, `cut after the pause limit (${cutAfter} ms), not the 300 s request timeout`)
  t.equal((await other).status, 200, 'the caller queued behind it gets the slot, not upstream_busy')
  t.equal(s.logs.events('request.body_stalled').length, 1, 'one request.body_stalled line')
  t.same(
    s.logs.lines.filter((l) => l.level === 'error'),
    [],
    'nothing at error level',
  )
})

t.test('an upload that keeps moving, however slowly, is not cut', async (t) => {
  const s = await startStack(t, { file: { proxy: { connections: 1, upstreamTimeoutSeconds: 0.5 } } })
  const socket = connect(s.proxy.port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  let answer = ''
  socket.on('data', (d: Buffer) => (answer += d.toString('latin1')))
  socket.write(head(s, BODY.length))
  // one piece every 200 ms: 1.6 s in all, three times the pause limit
  const pieces = BODY.match(/.{1,7}/g) as string[]
  for (const piece of pieces) {
    await new Promise((r) => setTimeout(r, 200))
    socket.write(piece)
  }
  await waitFor(() => /\r\n\r\n/.test(answer), 5000, 'the answer')
  socket.destroy()
  t.ok(pieces.length * 200 > 1000, 'the upload lasted longer than the pause limit')
  t.match(answer, /^HTTP\/1\.1 202 /, 'OAC accepted the whole body')
  t.same(s.logs.events('request.body_stalled'), [])
})

t.test('watching uploads leaves the keep-alive timeout of answered connections in place', async (t) => {
  const s = await startStack(t)
  s.proxy.server.app.server.keepAliveTimeout = 300
  // a GET, and a POST whose body comes in two parts (watched while it arrives)
  for (const parts of [
    [`GET ${API} HTTP/1.1\r\nHost: 127.0.0.1:${s.proxy.port}\r\n\r\n`],
    [head(s, BODY.length) + BODY.slice(0, 10), BODY.slice(10)],
  ]) {
    const socket = connect(s.proxy.port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    let answer = ''
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')))
    const closed = new Promise<boolean>((resolve) => {
      socket.once('close', () => resolve(true))
      setTimeout(() => resolve(false), 4000)
    })
    for (const part of parts) {
      socket.write(part)
      await new Promise((r) => setTimeout(r, 100))
    }
    const what = (parts[0] as string).split(' ')[0] as string
    t.ok(await closed, `${what}: the idle connection is closed by the server's keep-alive timeout`)
    t.match(answer, /^HTTP\/1\.1 20[02] /, `${what}: answered`)
    socket.destroy()
  }
})
