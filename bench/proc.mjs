// Child processes, free ports, temp dirs and /proc readers for the benchmark; everything is cleaned up on exit.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const children = new Set()
const tempDirs = new Set()
let cleaned = false

/** Clock ticks per second, for utime/stime in /proc/PID/stat. */
export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100

/** The environment every child gets: no outbound proxy, no NODE_OPTIONS, no extra CA bundle. */
export function cleanEnv(extra = {}) {
  const env = { ...process.env, ...extra }
  for (const k of Object.keys(env)) {
    if (/^(https?|no|all)_proxy$/i.test(k) || k === 'NODE_OPTIONS' || k === 'NODE_EXTRA_CA_CERTS') delete env[k]
  }
  return env
}

export function makeTempDir(prefix = 'oac-bench-', base = tmpdir()) {
  const dir = mkdtempSync(join(base, prefix))
  tempDirs.add(dir)
  return dir
}

/** A free TCP port on 127.0.0.1 (bound to port 0, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/** `taskset -c CPUS cmd...` when pinning is on (cpus undefined: no pinning). */
export function pinned(cpus, cmd, args) {
  return cpus === undefined ? [cmd, args] : ['taskset', ['-c', String(cpus), cmd, ...args]]
}

/**
 * Starts a long-lived child, tracked for cleanup. `extraPids()` may add more pids to kill (nginx workers).
 * Output goes to `logFile` via the returned `output()` buffer (last 64 KB kept).
 */
export function startChild(name, cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? cleanEnv(), cwd: opts.cwd })
  let out = ''
  const keep = (d) => {
    out = (out + d.toString()).slice(-65536)
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const handle = {
    name,
    child,
    pid: child.pid,
    extraPids: [],
    exited: false,
    output: () => out,
    exitPromise: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  }
  child.once('exit', () => {
    handle.exited = true
    children.delete(handle)
  })
  child.once('error', (err) => keep(`spawn error: ${err.message}\n`))
  children.add(handle)
  return handle
}

/** Stops a child: `signal` first, SIGKILL after `graceMs`, then its extra pids. */
export async function stopChild(handle, signal = 'SIGTERM', graceMs = 3000) {
  if (!handle) return
  if (!handle.exited) {
    try {
      process.kill(handle.pid, signal)
    } catch {
      // already gone
    }
    const t = sleep(graceMs).then(() => 'timeout')
    if ((await Promise.race([handle.exitPromise, t])) === 'timeout' && !handle.exited) {
      killQuietly(handle.pid)
      await handle.exitPromise
    }
  }
  for (const pid of handle.extraPids) killQuietly(pid)
  children.delete(handle)
}

function killQuietly(pid, signal = 'SIGKILL') {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

/** Runs a command to completion with a hard time limit; resolves { code, stdout, stderr }. */
export function runBounded(cmd, args, { timeoutMs, env, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? cleanEnv() })
    const handle = { name: cmd, pid: child.pid, extraPids: [], exited: false }
    children.add(handle)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => killQuietly(child.pid), timeoutMs ?? 60_000)
    child.once('error', (err) => {
      clearTimeout(timer)
      children.delete(handle)
      reject(new Error(`${cmd}: ${err.message}`))
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      handle.exited = true
      children.delete(handle)
      resolve({ code, signal, stdout, stderr })
    })
    if (input !== undefined) child.stdin.end(input)
    else child.stdin.end()
  })
}

/** Waits until a TCP port accepts connections. */
export async function waitForPort(port, timeoutMs = 10_000, handle) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (handle?.exited) throw new Error(`${handle.name} exited during start:\n${handle.output()}`)
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await sleep(50)
  }
  throw new Error(`port ${port} did not open within ${timeoutMs} ms${handle ? `:\n${handle.output()}` : ''}`)
}

/** Moves every thread of a running process to `cpu` (no-op when cpu is undefined). */
export function setAffinity(pid, cpu) {
  if (cpu === undefined || pid === undefined) return
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore', timeout: 5000 })
}

/** utime+stime of a process in seconds (all its threads), or NaN when gone. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / CLK_TCK
  } catch {
    return NaN
  }
}

/** VmRSS and VmHWM in MiB, and the resident set split into anonymous and file-backed memory. */
export function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const mib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024
    return { rssMiB: mib('VmRSS'), hwmMiB: mib('VmHWM'), anonMiB: mib('RssAnon'), fileMiB: mib('RssFile') }
  } catch {
    return { rssMiB: NaN, hwmMiB: NaN, anonMiB: NaN, fileMiB: NaN }
  }
}

/** Direct children of a process (e.g. nginx workers of a master). */
export function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/** Busy CPU seconds of the whole machine (every core), from /proc/stat. */
export function machineBusySeconds() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number)
  // user nice system: irq and softirq time (the kernel moving our own loopback traffic) is in no process's
  // utime/stime, so it is left out rather than counted as someone else's load
  return (f[0] + f[1] + f[2]) / CLK_TCK
}

/** CPU seconds of this process plus its reaped children (wrk, curl... once they exited). */
export function selfAndReapedSeconds() {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK
}

/** Synchronous cleanup: every tracked child killed (nginx masters get SIGTERM first), temp dirs removed. */
export function cleanupSync() {
  if (cleaned) return
  cleaned = true
  for (const h of children) {
    if (h.extraPids.length > 0) killQuietly(h.pid, 'SIGTERM')
    for (const pid of h.extraPids) killQuietly(pid)
    if (h.extraPids.length === 0) killQuietly(h.pid)
  }
  children.clear()
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  tempDirs.clear()
}

/** Installs exit, SIGINT, SIGTERM and uncaught-error handlers that clean up. */
export function installCleanupHandlers() {
  process.on('exit', cleanupSync)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      console.error(`\nbench: ${sig}, stopping every child process`)
      cleanupSync()
      process.exit(130)
    })
  }
}
