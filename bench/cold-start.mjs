// Cold start: from spawning the proxy to its first proxied 200, with the refresh token already in the state file
// (a restart, not a first sign-in), and the RSS once that request is answered.
// Alone: npm run build && node bench/cold-start.mjs [--runs N] [--sea]   (the image's Node line and V8 flags;
// --sea: the single-file executable built by npm run sea instead)
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { benchNode } from './node.mjs'
import { cleanEnv, cpuSeconds, freePort, makeTempDir, memory, pinned } from './proc.mjs'
import { httpGet, writeProxyConfig } from './proxy.mjs'
import { CATALOG_PATH } from './nginx.mjs'
import { median } from './report.mjs'

/** The request a cold start ends with: it needs an access token, so the refresh has happened. */
const PATH = '/api/20210901/snapshots'

/** Polls `url` every millisecond until it answers 200; resolves with the time since `t0` in ms. */
async function firstOk(url, t0, child, timeoutMs = 30_000) {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before answering`)
    const r = await httpGet(url, 2000).catch(() => undefined)
    if (r?.status === 200) return performance.now() - t0
    if (r && r.status !== 503) throw new Error(`${url} answered ${r.status}: ${r.body.slice(0, 200)}`)
    if (performance.now() - t0 > timeoutMs) throw new Error(`no 200 from ${url} within ${timeoutMs} ms`)
    await sleep(1)
  }
}

async function stop(child) {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

/**
 * Starts the proxy `runs` times against the simulator (after one start that moves the refresh token into the
 * state file); returns the median time to the first proxied 200 and the RSS just after it. `script` null runs
 * `node` alone (the single-file executable).
 */
export async function coldStart({ root, sim, node, flags, runs = 5, cpus, script = join(root, 'dist', 'cli.js') }) {
  const dir = makeTempDir('oac-bench-cold-')
  const port = await freePort()
  const configFile = writeProxyConfig(dir, { sim, port })
  const once = async () => {
    const command = [...flags, ...(script ? [script] : []), 'serve', '--config', configFile]
    const [cmd, args] = pinned(cpus, node, command)
    const t0 = performance.now()
    const child = spawn(cmd, args, { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d) => (err += d))
    try {
      const ms = await firstOk(`http://127.0.0.1:${port}${PATH}`, t0, child)
      // CPU time is less sensitive than wall time to other load on the machine
      const cpuMs = cpuSeconds(child.pid) * 1000
      await sleep(200)
      return { ms, cpuMs, ...memory(child.pid) }
    } catch (e) {
      throw new Error(`cold start: ${e.message}\n${err}`, { cause: e })
    } finally {
      await stop(child)
    }
  }
  // the first start signs in with the configured refresh token and keeps the rotated one in state.json
  await once()
  const samples = []
  for (let i = 0; i < runs; i++) samples.push(await once())
  return {
    ms: median(samples.map((s) => s.ms)),
    cpuMs: median(samples.map((s) => s.cpuMs)),
    rssMiB: median(samples.map((s) => s.rssMiB)),
    samples,
  }
}

/** The same for bench/reference-proxy.mjs, which needs no token: start to its first 200 from the stand-in (nginx). */
export async function coldStartReference({ root, node, flags, upstreamPort, token, runs = 5, cpus }) {
  const samples = []
  for (let i = 0; i < runs; i++) {
    const port = await freePort()
    const script = join(root, 'bench', 'reference-proxy.mjs')
    const [cmd, args] = pinned(cpus, node, [...flags, script, String(port), String(upstreamPort), token])
    const t0 = performance.now()
    const child = spawn(cmd, args, { env: cleanEnv(), stdio: 'ignore' })
    try {
      const ms = await firstOk(`http://127.0.0.1:${port}${CATALOG_PATH}`, t0, child)
      const cpuMs = cpuSeconds(child.pid) * 1000
      await sleep(200)
      samples.push({ ms, cpuMs, ...memory(child.pid) })
    } finally {
      await stop(child)
    }
  }
  return {
    ms: median(samples.map((s) => s.ms)),
    cpuMs: median(samples.map((s) => s.cpuMs)),
    rssMiB: median(samples.map((s) => s.rssMiB)),
    samples,
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, sea: { type: 'boolean' } } })
  const root = fileURLToPath(new URL('..', import.meta.url))
  const { startSimulator } = await import('../dist/simulator/index.js')
  const sim = await startSimulator()
  const { node, flags, version } = values.sea
    ? { node: join(root, 'build', 'sea', 'oac-token-proxy'), flags: [], version: '(single-file executable)' }
    : benchNode(root)
  try {
    const r = await coldStart({
      root,
      sim,
      node,
      flags,
      runs: Number(values.runs),
      ...(values.sea && { script: null }),
    })
    const fmt = (s) => `${s.ms.toFixed(0)} ms (${s.cpuMs.toFixed(0)} ms CPU) / ${s.rssMiB.toFixed(1)} MiB`
    process.stdout.write(
      `oac-token-proxy on Node ${version} ${flags.join(' ')}: start to first proxied 200 ${r.ms.toFixed(0)} ms ` +
        `(median of ${r.samples.length}; ${r.cpuMs.toFixed(0)} ms of CPU), RSS after it ${r.rssMiB.toFixed(1)} MiB\n  runs: ${r.samples.map(fmt).join(', ')}\n`,
    )
  } finally {
    await sim.close()
  }
}
