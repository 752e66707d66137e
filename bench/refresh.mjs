// Refresh under load: 2 s access tokens, 50 connections for a while; p99 around each refresh vs steady state.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, makeTempDir, pinned, runBounded, stopChild } from './proc.mjs'
import { proxyStatus, startOacProxy } from './proxy.mjs'
import { CATALOG_PATH } from './nginx.mjs'
import { foreignCpuMeter } from './measure.mjs'

const HERE = fileURLToPath(new URL('.', import.meta.url))
/** A request belongs to a refresh when it started within this of an IdP token call. */
export const WINDOW_MS = 250

/** Nearest-rank percentile of numbers already sorted ascending. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/** Splits recorded requests (start ms, latency ms, status triples) into around-refresh and steady state; µs. */
export function splitByRefresh(records, refreshTimes, windowMs = WINDOW_MS) {
  const around = []
  const steady = []
  const times = [...refreshTimes].sort((a, b) => a - b)
  for (let k = 0; k < records.length; k += 3) {
    const t = records[k]
    // first refresh time >= t - windowMs (binary search)
    let lo = 0
    let hi = times.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (times[mid] < t - windowMs) lo = mid + 1
      else hi = mid
    }
    const near = lo < times.length && times[lo] <= t + windowMs
    ;(near ? around : steady).push(records[k + 1] * 1000)
  }
  return { around, steady }
}

/**
 * Starts its own simulator (2 s tokens) and proxy, drives load-client.mjs, then reads the simulator's token calls
 * (the refresh times) and the proxy's refresh counter.
 */
export async function refreshUnderLoad({ root, standinHttpPort, ourPids, cpus, timing, startSimulator }) {
  const sim = await startSimulator({ accessTokenLifetimeS: 2 })
  let proxy
  try {
    const port = await freePort()
    proxy = await startOacProxy({
      root,
      sim,
      port,
      oacUrl: `http://127.0.0.1:${standinHttpPort}`,
      cpus: cpus.proxy,
      name: 'oac-token-proxy (2 s tokens)',
    })
    const before = (await proxyStatus(port)).credentials[0]
    const out = join(makeTempDir('oac-bench-refresh-'), 'records.f64')
    const [cmd, args] = pinned(cpus.client, process.execPath, [
      join(HERE, 'load-client.mjs'),
      `http://127.0.0.1:${port}${CATALOG_PATH}`,
      '50',
      String(timing.refreshWarmupMs),
      String(timing.refreshMs),
      out,
    ])
    const foreign = foreignCpuMeter([...ourPids, proxy.pid])
    const r = await runBounded(cmd, args, { timeoutMs: timing.refreshWarmupMs + timing.refreshMs + 30_000 })
    const foreignCores = foreign()
    if (r.code !== 0) throw new Error(`load client failed (${r.code}): ${r.stderr}`)
    const summary = JSON.parse(r.stdout.trim().split('\n').pop())
    const after = (await proxyStatus(port)).credentials[0]
    const buf = readFileSync(out)
    const records = new Float64Array(buf.buffer, buf.byteOffset, buf.length / 8)

    const tokenCalls = sim.calls.filter((c) => c.server === 'idcs' && c.path.endsWith('/oauth2/v1/token'))
    // refreshes completed between the two status reads, and the IdP calls that belong to them
    const cycles = after.refreshes - before.refreshes
    const callsInCycles = tokenCalls.filter(
      (c) => c.atMs > before.lastRefreshAtMs && c.atMs <= after.lastRefreshAtMs,
    ).length
    const refreshTimes = tokenCalls
      .filter((c) => c.status === 200 && c.atMs >= summary.fromMs - WINDOW_MS && c.atMs <= summary.toMs + WINDOW_MS)
      .map((c) => c.atMs)
    const { around, steady } = splitByRefresh(records, refreshTimes)
    // sorted once: every percentile below reads these
    const aroundSorted = Float64Array.from(around).sort()
    const steadySorted = Float64Array.from(steady).sort()
    const aroundP99Us = percentile(aroundSorted, 99)
    const steadyP99Us = percentile(steadySorted, 99)
    const stats = sim.stats()
    return {
      durationS: timing.refreshMs / 1000,
      foreignCores,
      requests: summary.requests,
      rps: summary.requests / (timing.refreshMs / 1000),
      errors: summary.errors + summary.non200,
      refreshesInWindow: refreshTimes.length,
      cycles,
      callsInCycles,
      callsPerCycle: cycles > 0 ? callsInCycles / cycles : NaN,
      staleRefreshTokenUses: stats.staleRefreshTokenUses,
      aroundCount: around.length,
      steadyCount: steady.length,
      aroundP50Us: percentile(aroundSorted, 50),
      aroundP99Us,
      steadyP50Us: percentile(steadySorted, 50),
      steadyP99Us,
      p99Ratio: aroundP99Us / steadyP99Us,
      maxAroundUs: percentile(aroundSorted, 100),
      maxSteadyUs: percentile(steadySorted, 100),
    }
  } finally {
    await stopChild(proxy?.handle)
    await sim.close()
  }
}
