// Where the proxy's time and memory go: a V8 CPU profile of one c=50 run (kept in a temp dir) and memory figures.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, makeTempDir, memory, stopChild } from './proc.mjs'
import { httpGet, startOacProxy } from './proxy.mjs'
import { runWrk } from './measure.mjs'
import { CATALOG_PATH } from './nginx.mjs'

/** Self time by function and by package from a .cpuprofile (Chrome DevTools JSON). */
export function summariseProfile(profile, top = 15) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map()
  let total = 0
  let idleUs = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0
    // shares are of the busy time: idle samples (waiting in epoll) are left out
    if (byId.get(profile.samples[i])?.callFrame.functionName === '(idle)') {
      idleUs += dt
      continue
    }
    total += dt
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt)
  }
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const fns = new Map()
  const pkgs = new Map()
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : ''
    const key = `${functionName || '(anonymous)'} ${where}`.trim()
    fns.set(key, (fns.get(key) ?? 0) + us)
    // native frames (syscalls, builtins) count for the nearest JavaScript caller's package
    let frame = byId.get(id)
    while (!frame.callFrame.url && !functionName.startsWith('(') && parent.has(frame.id))
      frame = byId.get(parent.get(frame.id))
    const pkg = packageOf(functionName, frame.callFrame.url)
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + us)
  }
  const rank = (m, n) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, share: us / total }))
  return { busyMs: total / 1000, idleMs: idleUs / 1000, functions: rank(fns, top), packages: rank(pkgs, 12) }
}

function shortUrl(url) {
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length)
  const dist = url.indexOf('/dist/')
  if (dist >= 0) return url.slice(dist + 1)
  return url.replace(/^file:\/\//, '')
}

function packageOf(functionName, url) {
  if (!url) return functionName.startsWith('(') ? functionName : '(native, no JavaScript caller)'
  if (url.startsWith('node:')) return 'node core (JS)'
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  if (url.includes('/dist/')) return 'oac-token-proxy (dist/)'
  return url
}

function metric(text, name) {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+]+)$`, 'm').exec(text)
  return m ? Number(m[1]) / 2 ** 20 : NaN
}

async function memoryView(port, pid) {
  const r = await httpGet(`http://127.0.0.1:${port}/-/metrics`)
  const p = 'oac_proxy_nodejs_'
  const m = memory(pid)
  return {
    rss: m.rssMiB,
    anon: m.anonMiB,
    file: m.fileMiB,
    hwm: m.hwmMiB,
    heapTotal: metric(r.body, `${p}heap_size_total_bytes`),
    heapUsed: metric(r.body, `${p}heap_size_used_bytes`),
    external: metric(r.body, `${p}external_memory_bytes`),
  }
}

/** Profiles the plain-HTTP oac-token-proxy for one c=50 wrk run; nothing is written under the project. */
export async function profileProxy({ root, sim, tools, standinHttpPort, cpus, timing }) {
  const profDir = makeTempDir('oac-bench-cpuprof-')
  const port = await freePort()
  const proxy = await startOacProxy({
    root,
    sim,
    port,
    oacUrl: `http://127.0.0.1:${standinHttpPort}`,
    cpus: cpus.proxy,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    name: 'oac-token-proxy (profiled)',
  })
  let idle
  let loaded
  let wrk
  try {
    await new Promise((r) => setTimeout(r, timing.idleMs))
    idle = await memoryView(port, proxy.pid)
    const load = { wrk: tools.wrk, url: `http://127.0.0.1:${port}${CATALOG_PATH}`, cpus: cpus.client }
    await runWrk({ ...load, threads: 2, conns: 50, durationS: timing.warmupS })
    wrk = await runWrk({ ...load, threads: 2, conns: 50, durationS: timing.c50S })
    loaded = await memoryView(port, proxy.pid)
  } finally {
    await stopChild(proxy.handle, 'SIGTERM', 10_000)
  }
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))
  if (!file) throw new Error('the profiled proxy wrote no .cpuprofile')
  const summary = summariseProfile(JSON.parse(readFileSync(join(profDir, file), 'utf8')))
  return { ...summary, rpsProfiled: wrk.rps, memory: { idle, loaded } }
}
