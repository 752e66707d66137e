// Simulated OAC large bodies: a 10 MB streamed download and a 10 MB streamed, hashed upload.

import t from 'tap'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { request } from 'undici'
import { DOWNLOAD_PATTERN, startSimulator } from '../../../src/simulator/index.js'
import { accessToken, oacCall } from '../fixtures/sim-client.js'

const TEN_MB = 10 * 1000 * 1000 + 123

function expectedDownloadSha256(bytes: number): string {
  const hash = createHash('sha256')
  for (let done = 0; done < bytes; done += DOWNLOAD_PATTERN.length) {
    hash.update(DOWNLOAD_PATTERN.subarray(0, Math.min(DOWNLOAD_PATTERN.length, bytes - done)))
  }
  return hash.digest('hex')
}

t.test('download streams N bytes of the pattern', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const token = await accessToken(sim)
  const res = await request(`${sim.oacUrl}/api/20210901/workbooks/wb1/exports/ex1?bytes=${TEN_MB}`, {
    headers: { authorization: `Bearer ${token}` },
  })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'application/pdf')
  t.equal(res.headers['content-length'], String(TEN_MB))
  const hash = createHash('sha256')
  let received = 0
  for await (const chunk of res.body) {
    received += (chunk as Buffer).length
    hash.update(chunk as Buffer)
  }
  t.equal(received, TEN_MB)
  t.equal(hash.digest('hex'), expectedDownloadSha256(TEN_MB))

  const small = await request(`${sim.oacUrl}/api/20210901/workbooks/wb1/exports/ex1`, {
    headers: { authorization: `Bearer ${token}` },
  })
  t.equal(small.headers['content-length'], String(1024 * 1024), 'default 1 MiB')
  const head = Buffer.from(await small.body.arrayBuffer())
  t.equal(head.subarray(0, 5).toString(), '%PDF-')

  for (const bad of ['-1', 'abc', String(2 * 1024 ** 3 + 1), '1e6']) {
    const res = await oacCall(sim, `/api/20210901/workbooks/wb1/exports/ex1?bytes=${bad}`, {
      token,
    })
    t.equal(res.status, 400, `bytes=${bad}`)
  }
  const zero = await oacCall(sim, '/api/20210901/workbooks/wb1/exports/ex1?bytes=0', { token })
  t.same([zero.status, zero.text], [200, ''])
})

t.test('client abandoning a download does not upset the simulator', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const token = await accessToken(sim)
  const res = await request(`${sim.oacUrl}/api/20210901/workbooks/wb1/exports/ex1?bytes=500000000`, {
    headers: { authorization: `Bearer ${token}` },
  })
  for await (const chunk of res.body) {
    t.ok((chunk as Buffer).length > 0)
    break
  }
  const after = await oacCall(sim, '/api/20210901/connections', { token })
  t.equal(after.status, 200)
})

t.test('upload is consumed as a stream and hashed', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const token = await accessToken(sim)
  const expected = createHash('sha256')
  function* chunks() {
    const block = Buffer.alloc(64 * 1024)
    for (let sent = 0; sent < TEN_MB; sent += block.length) {
      const size = Math.min(block.length, TEN_MB - sent)
      block.fill(sent & 0xff)
      const piece = Buffer.from(block.subarray(0, size))
      expected.update(piece)
      yield piece
    }
  }
  const res = await request(`${sim.oacUrl}/api/20210901/datasets/orders/data`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body: Readable.from(chunks()),
  })
  t.equal(res.statusCode, 200)
  t.same(await res.body.json(), { bytes: TEN_MB, sha256: expected.digest('hex') })

  const echo = await oacCall(sim, '/api/20210901/sim/echo', {
    token,
    method: 'POST',
    body: 'x'.repeat(5000),
  })
  t.match(echo.json(), { method: 'POST', bodyBytes: 5000 })
})
