// One row of measurements: wrk at c=1 and c=50, curl 100 MiB down and up, proxy CPU per request and RSS from /proc.
import { randomFillSync } from 'node:crypto'
import { closeSync, openSync, truncateSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  cpuSeconds,
  machineBusySeconds,
  memory,
  pinned,
  runBounded,
  selfAndReapedSeconds,
  setAffinity,
} from './proc.mjs'
import { CATALOG_PATH, DOWNLOAD_PATH, HUGE_PATH, UPLOAD_PATH } from './nginx.mjs'
import { median } from './report.mjs'

/**
 * The CPUs of a pinned run: the load generator, the stand-in and curl share CPU 0; each proxy gets CPU 1 to itself.
 * Unpinned, every process may run on any core.
 */
export function cpuPlan(pin) {
  return pin ? { client: 0, proxy: 1 } : { client: undefined, proxy: undefined }
}

/** The transfer bodies in `dir`: big.bin with `bigSize` random bytes, huge.bin sparse (`hugeSize` bytes, no disk). */
export function writeBodyFiles(dir, { bigSize, hugeSize }) {
  const files = { bigFile: join(dir, 'big.bin'), bigSize, hugeFile: join(dir, 'huge.bin'), hugeSize }
  const chunk = randomFillSync(Buffer.alloc(2 ** 20))
  const fd = openSync(files.bigFile, 'w', 0o600)
  for (let i = 0; i < bigSize / chunk.length; i++) writeSync(fd, chunk)
  closeSync(fd)
  closeSync(openSync(files.hugeFile, 'w', 0o600))
  truncateSync(files.hugeFile, hugeSize)
  return files
}

const UNIT_US = { us: 1, ms: 1000, s: 1e6, m: 6e7, h: 3.6e9 }

function toUs(text) {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text)
  return m ? Number(m[1]) * UNIT_US[m[2]] : NaN
}

/** Parses wrk's report (run with --latency). */
export function parseWrk(out) {
  const pct = (p) => toUs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '')
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN),
    p50Us: pct(50),
    p99Us: pct(99),
    socketErrors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  }
}

export async function runWrk({ wrk, url, threads, conns, durationS, headers = [], cpus }) {
  const hdr = headers.flatMap((h) => ['-H', h])
  const [cmd, args] = pinned(cpus, wrk, [
    `-t${threads}`,
    `-c${conns}`,
    `-d${durationS}s`,
    '--timeout',
    '5s',
    '--latency',
    ...hdr,
    url,
  ])
  const r = await runBounded(cmd, args, { timeoutMs: durationS * 1000 + 20_000 })
  const res = parseWrk(r.stdout)
  if (r.code !== 0 || Number.isNaN(res.rps)) throw new Error(`wrk failed (${r.code}): ${r.stdout}${r.stderr}`)
  return res
}

/** One 100 MiB transfer with curl; resolves MiB/s. Fails on any status but 200 or a short transfer. */
export async function curlTransfer({ curl, url, direction, file, size, headers = [], cpus }) {
  const hdr = ['Expect:', ...headers].flatMap((h) => ['-H', h])
  const what = direction === 'upload' ? ['-T', file] : []
  const w =
    direction === 'upload'
      ? '%{http_code} %{size_upload} %{speed_upload}'
      : '%{http_code} %{size_download} %{speed_download}'
  const [cmd, args] = pinned(cpus, curl, ['-s', '--max-time', '120', '-o', '/dev/null', '-w', w, ...hdr, ...what, url])
  const r = await runBounded(cmd, args, { timeoutMs: 130_000 })
  const [status, bytes, speed] = r.stdout.trim().split(' ').map(Number)
  if (r.code !== 0 || status !== 200 || bytes !== size) {
    throw new Error(`curl ${direction} ${url}: exit ${r.code}, status ${status}, ${bytes} of ${size} bytes ${r.stderr}`)
  }
  return speed / 2 ** 20
}

/**
 * Cores used by everything else on the machine between the two calls: machine busy time (/proc/stat) minus this
 * process, its reaped children (wrk, curl) and the live processes in `live` (stand-in, proxy under test).
 */
export function foreignCpuMeter(live) {
  const pids = [...live].filter((p) => p !== undefined)
  const ours = () => selfAndReapedSeconds() + pids.reduce((a, p) => a + (cpuSeconds(p) || 0), 0)
  const busy0 = machineBusySeconds()
  const ours0 = ours()
  const t0 = performance.now()
  return () => {
    const foreign = machineBusySeconds() - busy0 - (ours() - ours0)
    return Math.max(0, foreign / ((performance.now() - t0) / 1000))
  }
}

/** Waits (up to maxMs) until the machine is nearly idle: less than `cores` busy over a second. */
export async function waitForQuiet({ maxMs, cores = 0.15 }) {
  const t0 = Date.now()
  let load = NaN
  do {
    const b0 = machineBusySeconds()
    await sleep(1000)
    load = machineBusySeconds() - b0
    if (load < cores) break
  } while (Date.now() - t0 < maxMs)
  return { waitedMs: Date.now() - t0, load }
}

/**
 * Measures one configuration already listening on `base` (http://127.0.0.1:PORT). `pid` is the process whose
 * CPU and memory count (undefined for direct); it is moved to the client's CPU for the one-CPU c=1 run.
 * `ourPids` are left out of the other-load meter.
 */
export async function measureRow({ tools, base, pid, headers, ourPids, files, cpus, timing }) {
  const row = {}
  if (pid !== undefined) {
    await sleep(timing.idleMs)
    const idle = memory(pid)
    row.idleRssMiB = idle.rssMiB
    row.idleAnonMiB = idle.anonMiB
  }
  const url = base + CATALOG_PATH
  const load = { wrk: tools.wrk, url, headers, cpus: cpus.client }
  await runWrk({ ...load, threads: 2, conns: 50, durationS: timing.warmupS })
  // c=1 twice: the proxy on its own CPU, then on the load generator's and stand-in's CPU (no cross-CPU wake-ups)
  if (pid !== undefined && cpus.proxy !== undefined) {
    row.c1split = await runWrk({ ...load, threads: 1, conns: 1, durationS: timing.c1S })
    setAffinity(pid, cpus.client)
    row.c1 = await runWrk({ ...load, threads: 1, conns: 1, durationS: timing.c1S })
    setAffinity(pid, cpus.proxy)
  } else {
    row.c1 = await runWrk({ ...load, threads: 1, conns: 1, durationS: timing.c1S })
    row.c1split = row.c1
  }
  const cpu0 = pid === undefined ? NaN : cpuSeconds(pid)
  const foreign = foreignCpuMeter([...ourPids, pid])
  const c50 = await runWrk({ ...load, threads: 2, conns: 50, durationS: timing.c50S })
  row.foreignCores = foreign()
  row.c50 = c50
  row.cpuUsPerReq = ((cpuSeconds(pid) - cpu0) / c50.requests) * 1e6
  // VmHWM before the transfers: the start-up peak and the c=50 run only
  if (pid !== undefined) row.hwmAfterC50MiB = memory(pid).hwmMiB
  const transfer = { curl: tools.curl, file: files.bigFile, size: files.bigSize, headers, cpus: cpus.client }
  const download = { ...transfer, url: base + DOWNLOAD_PATH, direction: 'download' }
  const upload = { ...transfer, url: base + UPLOAD_PATH, direction: 'upload' }
  // the first transfer after a start also pays for V8 compiling the streaming paths: it is kept apart, and the
  // figure is the median of the transfers after it (curl's speed varies a lot from one 100 MiB transfer to the next)
  row.firstDownloadMiBs = await curlTransfer(download)
  row.firstUploadMiBs = await curlTransfer(upload)
  const downs = []
  const ups = []
  for (let i = 0; i < timing.transfers; i++) {
    downs.push(await curlTransfer(download))
    ups.push(await curlTransfer(upload))
  }
  row.downloadMiBs = median(downs)
  row.uploadMiBs = median(ups)
  if (pid !== undefined) row.peakRssMiB = memory(pid).hwmMiB
  row.errors = [row.c1, row.c1split, c50].reduce((a, r) => a + r.socketErrors + r.non2xx, 0)
  return row
}

/**
 * RSS against body size: a 100 MiB download and upload, then 1 GiB of each, through a freshly started proxy.
 * A streaming proxy's peak (VmHWM) must not grow with the body.
 */
export async function rssByBodySize({ tools, base, pid, files, cpus }) {
  const t = { curl: tools.curl, cpus: cpus.client }
  const small = { ...t, file: files.bigFile, size: files.bigSize }
  const huge = { ...t, file: files.hugeFile, size: files.hugeSize }
  await curlTransfer({ ...small, url: base + DOWNLOAD_PATH, direction: 'download' })
  await curlTransfer({ ...small, url: base + UPLOAD_PATH, direction: 'upload' })
  const afterSmall = memory(pid)
  const hugeDownMiBs = await curlTransfer({ ...huge, url: base + HUGE_PATH, direction: 'download' })
  const hugeUpMiBs = await curlTransfer({ ...huge, url: base + UPLOAD_PATH, direction: 'upload' })
  const afterHuge = memory(pid)
  return {
    smallMiB: files.bigSize / 2 ** 20,
    hugeMiB: files.hugeSize / 2 ** 20,
    smallPeakMiB: afterSmall.hwmMiB,
    hugePeakMiB: afterHuge.hwmMiB,
    hugeRssMiB: afterHuge.rssMiB,
    hugeDownMiBs,
    hugeUpMiBs,
  }
}
