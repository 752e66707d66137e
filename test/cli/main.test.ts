// The built CLI (dist/cli.js): version, help, exit codes and messages for bad config and a held lock, demo --check.
import t, { type Test } from 'tap'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CLI = join(ROOT, 'dist', 'cli.js')
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

/** The environment of this run without any OAC_PROXY_* variable. */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OAC_PROXY_')))

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the CLI to completion; resolves with its exit code and output whatever the code. */
function cli(args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: options.cwd ?? ROOT, env: ENV, timeout: options.timeoutMs ?? 20_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(new Error(`cli ${args.join(' ')} did not exit by itself (${err.message}); stderr: ${stderr}`))
          return
        }
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr })
      },
    )
  })
}

const REQUIRED = [
  'oacUrl: https://oac.example.com',
  'idcsUrl: https://idcs.example.com',
  'clientId: my-client',
  'scope: "https://aud.example.comurn:opc:resource:consumer::all offline_access"',
]

/** A node process that stays alive until killed at the end of the test. */
async function liveProcess(t: Test): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' })
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  await once(child, 'spawn')
  return child.pid as number
}

t.test('--version prints the package version', async (t) => {
  const r = await cli(['--version'])
  t.same(r, { code: 0, stdout: `${VERSION}\n`, stderr: '' })
})

t.test('--help lists the commands', async (t) => {
  const r = await cli(['--help'])
  t.equal(r.code, 0)
  for (const command of ['serve', 'demo', 'simulate']) t.match(r.stdout, new RegExp(`^ {2}${command} `, 'm'), command)
})

t.test('no arguments prints help and exits 2', async (t) => {
  const r = await cli([])
  t.equal(r.code, 2)
  t.match(r.stdout, /^Usage: /m)
})

t.test('help serve lists --config and --port', async (t) => {
  const r = await cli(['help', 'serve'])
  t.equal(r.code, 0)
  t.match(r.stdout, /--config FILE/)
  t.match(r.stdout, /--port N\s+listen\.port/)
})

t.test('an unknown command exits 2 and names it', async (t) => {
  const r = await cli(['frobnicate'])
  t.equal(r.code, 2)
  t.equal(r.stdout, '')
  t.match(r.stderr, /^oac-token-proxy: usage: .*'frobnicate'/)
})

t.test('an unknown flag exits 2', async (t) => {
  const r = await cli(['serve', '--prot', '1'])
  t.equal(r.code, 2)
  t.match(r.stderr, /^oac-token-proxy: usage: .*--prot/)
})

t.test('serve with a missing config file exits 2 with config_unreadable', async (t) => {
  const dir = t.testdir({})
  const r = await cli(['serve', '--config', 'missing.yaml'], { cwd: dir })
  t.equal(r.code, 2)
  t.match(r.stderr, /^oac-token-proxy: config_unreadable: /)
  t.match(r.stderr, join(dir, 'missing.yaml'))
})

t.test('serve with an unknown key and a wrong type exits 2 naming both keys and the file', async (t) => {
  const dir = t.testdir({ 'config.yaml': [...REQUIRED, 'listn: 1', 'listen:', '  port: eighty', ''].join('\n') })
  const path = join(dir, 'config.yaml')
  const r = await cli(['serve', '--config', path], { cwd: dir })
  t.equal(r.code, 2)
  t.match(r.stderr, /^oac-token-proxy: config_invalid: /)
  const problems = r.stderr.split('\n').filter((l) => l.startsWith('  - '))
  t.equal(problems.length, 2)
  t.match(
    problems.find((l) => l.startsWith('  - listn ')),
    path,
  )
  t.match(
    problems.find((l) => l.startsWith('  - listen.port ')),
    path,
  )
})

t.test('serve with a state file locked by a live process exits 3 with state_locked', async (t) => {
  const pid = await liveProcess(t)
  const dir = t.testdir({
    'config.yaml': [...REQUIRED, 'stateFile: state.json', 'listen:', '  port: 0', ''].join('\n'),
    'state.json.lock': JSON.stringify({ pid, hostname: hostname(), startedAtMs: Date.now() }),
  })
  const r = await cli(['serve', '--config', join(dir, 'config.yaml')], { cwd: dir })
  t.equal(r.code, 3)
  t.match(r.stderr, /^oac-token-proxy: state_locked: /)
  t.match(r.stderr, new RegExp(`\\b${pid}\\b`))
})

t.test('demo --check --port 0 answers 200 through the proxy', async (t) => {
  const r = await cli(['demo', '--check', '--port', '0'], { timeoutMs: 15_000 })
  t.equal(r.code, 0)
  t.match(r.stdout, 'curl -s http://127.0.0.1:')
  t.match(r.stdout, /^GET \/api\/20210901\/snapshots through the proxy: 200 /m)
})
