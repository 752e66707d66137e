// Runs the built CLI as a child process (no terminal, no stdin) and resolves its exit code and output.
import { execFile } from 'node:child_process'
import { CLI } from './helpers.js'

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
