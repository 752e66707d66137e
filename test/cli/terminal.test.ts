// Terminal conventions, checked on a real pseudo-terminal (util-linux `script`): human lines on a terminal, JSON into
// a pipe, colour only on a terminal and never with NO_COLOR, one human error from token, no JSON in the login screen.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { colorEnabled } from '../../src/shared/log.js'
import { EXIT } from '../../src/cli/exit-codes.js'
import { runCli, simulatorFor, tempFolder } from '../helpers/cli-run.js'
import { CLI, waitFor, writeSimConfig } from '../helpers.js'

const ESC = String.fromCharCode(27)
const JSON_LINE = /^\s*\{"level"/m

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** Runs the CLI with stdin, stdout and stderr on one pseudo-terminal; `screen` is everything it showed. */
function inTerminal(t: Test, args: string[], env: Record<string, string> = {}) {
  const command = [process.execPath, CLI, ...args].map(quote).join(' ')
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: { PATH: process.env.PATH ?? '', TERM: 'xterm-256color', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const io = { screen: '' }
  child.stdout.on('data', (d: Buffer) => (io.screen += d.toString()))
  child.stderr.on('data', (d: Buffer) => (io.screen += d.toString()))
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return { child, io, exited }
}

t.test('colour needs a terminal and no NO_COLOR', async (t) => {
  t.ok(colorEnabled({ isTTY: true }, {}))
  t.notOk(colorEnabled({ isTTY: false }, {}), 'a pipe')
  t.notOk(colorEnabled({}, {}), 'a file')
  t.notOk(colorEnabled({ isTTY: true }, { NO_COLOR: '1' }), 'NO_COLOR')
  t.ok(colorEnabled({ isTTY: true }, { NO_COLOR: '' }), 'an empty NO_COLOR does not count (no-color.org)')
  t.notOk(colorEnabled({ isTTY: true }, { TERM: 'dumb' }))
})

t.test('demo on a terminal: the banner and no JSON lines', async (t) => {
  const demo = inTerminal(t, ['demo', '--port', '0'])
  await waitFor(() => /Press Ctrl-C to stop/.test(demo.io.screen), 20_000, 'the demo banner')
  await new Promise((r) => setTimeout(r, 500))
  t.notMatch(demo.io.screen, JSON_LINE, 'no raw JSON over the curl commands')
  t.match(demo.io.screen, /--log-format pretty/, 'says how to see every line')
  t.match(demo.io.screen, /curl -s http/)
})

t.test('demo --log-format pretty on a terminal: human, coloured lines; NO_COLOR removes the colour', async (t) => {
  const coloured = inTerminal(t, ['demo', '--port', '0', '--log-format', 'pretty'])
  await waitFor(() => /Press Ctrl-C to stop/.test(coloured.io.screen), 20_000, 'the demo banner')
  await waitFor(() => /access token refreshed/.test(coloured.io.screen), 5_000, 'a human refresh line')
  t.notMatch(coloured.io.screen, JSON_LINE)
  t.ok(coloured.io.screen.includes(`${ESC}[`), 'colour on a terminal')

  const plain = inTerminal(t, ['demo', '--port', '0', '--log-format', 'pretty'], { NO_COLOR: '1' })
  await waitFor(() => /Press Ctrl-C to stop/.test(plain.io.screen), 20_000, 'the demo banner')
  await waitFor(() => /access token refreshed/.test(plain.io.screen), 5_000, 'a human refresh line')
  t.notOk(plain.io.screen.includes(`${ESC}[`), 'no colour with NO_COLOR')
})

t.test('pretty logs into a pipe carry no colour', async (t) => {
  const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
  const config = await writeSimConfig(tempFolder(t), sim)
  const r = await runCli(['token', '--config', config], { env: { OAC_PROXY_LOG_FORMAT: 'pretty' } })
  t.equal(r.code, 0, r.stderr)
  t.notOk(r.stderr.includes(`${ESC}[`))
})

t.test('token failing prints one human error and no JSON line', async (t) => {
  const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
  const dir = tempFolder(t)
  const config = await writeSimConfig(dir, sim)
  writeFileSync(join(dir, 'client-secret'), 'wrong-secret', { mode: 0o600 })
  const r = await runCli(['token', '--config', config])
  t.equal(r.code, EXIT.login, r.stderr)
  t.equal(r.stdout, '')
  t.notMatch(r.stderr, /\{/, 'no JSON')
  t.equal(r.stderr.match(/^oac-token-proxy: /gm)?.length, 1, 'one error')
  t.match(r.stderr, /^oac-token-proxy: credential_rejected: /)
})

t.test('login on a terminal: the code screen, the sign-in, and no JSON line in between', async (t) => {
  const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
  const config = await writeSimConfig(tempFolder(t), sim)
  const login = inTerminal(t, ['login', '--config', config, '--device'])
  await waitFor(() => /waiting for approval/.test(login.io.screen), 15_000, 'the countdown')
  const pending = sim.deviceRequests().find((d) => d.status === 'pending')
  if (!pending) throw new Error('no device request')
  sim.approveDevice(pending.userCode)
  const [code] = await login.exited
  t.equal(code, 0, login.io.screen)
  t.match(login.io.screen, /Signed in as /)
  t.notMatch(login.io.screen, JSON_LINE, 'no JSON line on the login screen')
})
