// Closed-loop load client (undici Pool): records each request's start time and latency to a binary file.
// Usage: node bench/load-client.mjs URL CONNECTIONS WARMUP_MS DURATION_MS OUT_FILE
import { writeFileSync } from 'node:fs'
import { Pool } from 'undici'

const [url, connsArg, warmupArg, durationArg, outFile] = process.argv.slice(2)
const conns = Number(connsArg)
const warmupMs = Number(warmupArg)
const durationMs = Number(durationArg)
if (!outFile || !(conns > 0) || !(durationMs > 0)) {
  console.error('usage: load-client.mjs URL CONNECTIONS WARMUP_MS DURATION_MS OUT_FILE')
  process.exit(2)
}

const { origin, pathname, search } = new URL(url)
const path = pathname + search
const pool = new Pool(origin, { connections: conns, pipelining: 1, keepAliveTimeout: 60_000 })
const cap = 4_000_000
// per request: start (epoch ms, sub-ms precision), latency (ms), status
const rec = new Float64Array(cap * 3)
let n = 0
let errors = 0
let non200 = 0
const epoch = performance.timeOrigin
const start = performance.now()
const recordFrom = start + warmupMs
const stopAt = recordFrom + durationMs

async function worker() {
  for (;;) {
    const t0 = performance.now()
    if (t0 >= stopAt) return
    let status = 0
    try {
      const res = await pool.request({ path, method: 'GET' })
      status = res.statusCode
      await res.body.dump({ limit: 1 << 20 })
    } catch {
      errors++
    }
    const t1 = performance.now()
    if (t0 >= recordFrom && n < cap) {
      rec[n * 3] = epoch + t0
      rec[n * 3 + 1] = t1 - t0
      rec[n * 3 + 2] = status
      n++
      if (status !== 200) non200++
    }
  }
}

await Promise.all(Array.from({ length: conns }, worker))
await pool.close()
writeFileSync(outFile, Buffer.from(rec.buffer, 0, n * 3 * 8))
console.log(JSON.stringify({ requests: n, errors, non200, fromMs: epoch + recordFrom, toMs: epoch + stopAt }))
