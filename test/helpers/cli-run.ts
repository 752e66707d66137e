// Runs the built CLI as a child process (no terminal, no stdin) and resolves its exit code and output; with the
// fixtures the CLI tests share: a temporary folder, a simulator and a busy port, all released at teardown.
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js'
import { CLI } from '../helpers.js'

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

export interface CliOptions {
  cwd?: string
  /** Added to an environment that holds only PATH. */
  env?: Record<string, string>
  timeoutMs?: number
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      {
        env: { PATH: process.env.PATH ?? '', ...options.env },
        ...(options.cwd ? { cwd: options.cwd } : {}),
        timeout: options.timeoutMs ?? 20_000,
        killSignal: 'SIGKILL',
      },
      (err, stdout, stderr) => {
        const code = child.exitCode
        if (typeof code !== 'number') {
          reject(new Error(`cli ${args.join(' ')} did not exit by itself: ${err?.message ?? 'killed'}\n${stderr}`))
          return
        }
        resolve({ code, stdout, stderr })
      },
    )
    child.stdin?.end()
  })
}

/** A new empty folder, removed at teardown. */
export function tempFolder(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'oac-proxy-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A simulator started with `options`, closed at teardown. */
export async function simulatorFor(t: Test, options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator(options)
  t.teardown(() => sim.close())
  return sim
}

/** A port some other program holds until teardown. */
export async function busyPort(t: Test): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as { port: number }).port
}
