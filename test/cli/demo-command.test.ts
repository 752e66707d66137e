// demo and simulate on the command line: --check output, an explicit busy port, flag ranges, the sign-in user printed.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { DEFAULT_USER, DEFAULT_USER_PASSWORD } from '../../src/simulator/constants.js'
import { EXIT } from '../../src/cli/exit-codes.js'
import { busyPort, runCli } from '../helpers/cli-run.js'
import { CLI, waitFor } from '../helpers.js'

const ESC = String.fromCharCode(27)

/** Starts a long-running CLI command and collects its output; killed at teardown. */
function start(t: Test, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const io = { stdout: '', stderr: '' }
  child.stdout.on('data', (d: Buffer) => (io.stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (io.stderr += d.toString()))
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return { child, io, exited }
}

t.test('demo --check: one request, the sign-in user, and no "Press Ctrl-C"', async (t) => {
  const r = await runCli(['demo', '--check', '--port', '0'], { timeoutMs: 30_000 })
  t.equal(r.code, EXIT.ok, r.stderr)
  t.match(r.stdout, /through the proxy: 200/)
  t.notMatch(r.stdout, /Ctrl-C/)
  t.ok(r.stdout.includes(`user ${DEFAULT_USER}, password ${DEFAULT_USER_PASSWORD}`), 'the sign-in user and password')
})

t.test('demo --port with the port busy is an error, never another port', async (t) => {
  const port = await busyPort(t)
  const r = await runCli(['demo', '--check', '--port', String(port)], { timeoutMs: 30_000 })
  t.equal(r.code, EXIT.failure)
  t.match(r.stderr, new RegExp(`cannot listen.*${port}`))
  t.notMatch(r.stdout, /using a free port/)
  t.notMatch(r.stdout, /curl/, 'no commands printed for a proxy that does not run')
})

t.test('out-of-range or malformed numbers are usage errors (exit 2), never a stack trace', async (t) => {
  for (const args of [
    ['demo', '--token-lifetime', '0'],
    ['demo', '--token-lifetime', '9'],
    ['demo', '--token-lifetime', '86401'],
    ['demo', '--token-lifetime', '1.5'],
    ['demo', '--token-lifetime', '-3'],
    ['demo', '--token-lifetime', 'soon'],
    ['demo', '--token-lifetime', ''],
    ['demo', '--port', '70000'],
    ['demo', '--port', '0x50'],
    ['demo', '--log-format', 'prety'],
    ['simulate', '--token-lifetime', '0'],
    ['simulate', '--idcs-port', '99999'],
  ]) {
    const r = await runCli(args)
    t.equal(r.code, EXIT.usage, args.join(' '))
    t.ok(r.stderr.startsWith('oac-token-proxy: usage: '), `${args.join(' ')}: a usage error`)
    t.ok((r.stderr.split('\n')[0] as string).includes(args[1] as string), `${args.join(' ')}: names the flag`)
    t.notMatch(r.stderr, /unexpected error|Error:|\n\s+at /, `${args.join(' ')}: no stack trace`)
  }
})

t.test('simulate prints the user name and password of its sign-in page', async (t) => {
  const sim = start(t, ['simulate'])
  await waitFor(() => /sign-in page:/.test(sim.io.stdout), 15_000, 'the simulate banner')
  t.ok(sim.io.stdout.includes(`user ${DEFAULT_USER}, password ${DEFAULT_USER_PASSWORD}`))
  sim.child.kill('SIGTERM')
  t.equal((await sim.exited)[0], 0)
})

t.test('demo into a pipe: JSON log lines on stderr, no Fastify "Server listening" line, Ctrl-C stops it', async (t) => {
  const demo = start(t, ['demo', '--port', '0'])
  await waitFor(() => /Press Ctrl-C to stop/.test(demo.io.stdout), 20_000, 'the demo banner')
  await waitFor(() => /proxy\.listening/.test(demo.io.stderr), 5_000, 'the listening line')
  const lines = demo.io.stderr.split('\n').filter(Boolean)
  for (const line of lines) t.doesNotThrow(() => JSON.parse(line), `JSON: ${line.slice(0, 60)}`)
  t.notMatch(demo.io.stderr, /Server listening at/)
  t.notOk(demo.io.stderr.includes(`${ESC}[`), 'no colour into a pipe')
  demo.child.kill('SIGINT')
  t.equal((await demo.exited)[0], 0)
})
