// 100 MB up and down through the proxy (a child process): bodies stream, the proxy's memory stays flat.
import t from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { request } from 'undici'
import { DOWNLOAD_PATTERN, startSimulator } from '../../src/simulator/index.js'
import { spawnProxy, writeSimConfig } from '../helpers.js'
// @ts-expect-error: a plain .mjs module, untyped
import { V8_FLAGS } from '../../scripts/v8-flags.mjs'

const SIZE = 100 * 1024 * 1024
const CHUNK = 64 * 1024
/**
 * The proxy may hold socket buffers and garbage not yet collected, never the body: growth stays far below the body
 * size. Measured on Node 26: 15-22 MB for 100 MB with the transfer collections, 20-37 MB without them.
 */
const MAX_RSS_GROWTH_MB = 40

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return kb / 1024
}

/** Samples the process's RSS every 25 ms while `work` runs; returns the peak. */
async function peakRssDuring(pid: number, work: () => Promise<void>): Promise<number> {
  let peak = rssMb(pid)
  const timer = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 25)
  try {
    await work()
  } finally {
    clearInterval(timer)
  }
  return Math.max(peak, rssMb(pid))
}

t.test(
  '100 MB download and upload stream through with flat memory',
  { skip: process.platform !== 'linux' && 'needs /proc' },
  async (t) => {
    const sim = await startSimulator()
    t.teardown(() => sim.close())
    const dir = t.testdir()
    // run as the bin, the image and the unit do: a 2 MB young generation, and gc exposed for the transfer collections
    const proxy = await spawnProxy(t, await writeSimConfig(dir, sim), {}, V8_FLAGS as string[])
    // warm up: one small request of each kind so lazy allocations are done
    await (await request(`${proxy.url}/api/20210901/workbooks/w/exports/e?bytes=1048576`)).body.dump()
    await (
      await request(`${proxy.url}/api/20210901/datasets/warm/data`, { method: 'PUT', body: Buffer.alloc(CHUNK) })
    ).body.dump()
    const baseline = rssMb(proxy.pid)

    let downloaded = 0
    let patternOk = true
    const downPeak = await peakRssDuring(proxy.pid, async () => {
      const res = await request(`${proxy.url}/api/20210901/workbooks/w1/exports/e1?bytes=${SIZE}`)
      t.equal(res.statusCode, 200)
      t.equal(res.headers['content-length'], String(SIZE))
      for await (const chunk of res.body) {
        const buf = chunk as Buffer
        if (downloaded === 0) patternOk = buf.subarray(0, 16).equals(DOWNLOAD_PATTERN.subarray(0, 16))
        downloaded += buf.length
      }
    })
    t.equal(downloaded, SIZE, 'all bytes arrived')
    t.ok(patternOk, 'content is the upstream content')
    t.ok(
      downPeak - baseline < MAX_RSS_GROWTH_MB,
      `download: RSS grew ${(downPeak - baseline).toFixed(1)} MB (baseline ${baseline.toFixed(1)} MB)`,
    )

    const hash = createHash('sha256')
    const block = Buffer.alloc(CHUNK, 7)
    const body = Readable.from(
      (function* () {
        for (let sent = 0; sent < SIZE; sent += CHUNK) {
          hash.update(block)
          yield block
        }
      })(),
    )
    let answer: { bytes: number; sha256: string } | undefined
    const upPeak = await peakRssDuring(proxy.pid, async () => {
      const res = await request(`${proxy.url}/api/20210901/datasets/big/data`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) },
        body,
      })
      t.equal(res.statusCode, 200)
      answer = (await res.body.json()) as { bytes: number; sha256: string }
    })
    t.same(answer, { bytes: SIZE, sha256: hash.digest('hex') }, 'upstream received every byte intact')
    t.ok(upPeak - baseline < MAX_RSS_GROWTH_MB, `upload: RSS grew ${(upPeak - baseline).toFixed(1)} MB`)
    t.equal(sim.stats().oacUnauthorized, 0)
  },
)
