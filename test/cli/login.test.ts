// The built CLI's login and import commands: device login end to end, --browser --no-open, a held lock, import, help.
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startSimulator, type Simulator } from '../../src/simulator/index.js'
import { CLI, spawnProxy, waitFor, writeSimConfig } from '../helpers.js'

const USER_CODE = /enter the code ([A-Z]{4}-[A-Z]{4})/

interface Run {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Resolves with the exit code (or the signal). */
  exited: Promise<number | string>
}

/** Runs `node dist/cli.js ARGS` with pipes (no TTY) and no OAC_PROXY_* variables; killed at the end of the test. */
function cli(t: Test, args: string[], cwd: string): Run {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal as string))),
  )
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  return { child, stdout: () => stdout, stderr: () => stderr, exited }
}

/** A simulator polled every second, and a config for it (with a bootstrap refresh token file) in a fresh directory. */
async function setup(t: Test): Promise<{ sim: Simulator; dir: string; configPath: string; stateFile: string }> {
  const sim = await startSimulator({ deviceIntervalS: 1 })
  t.teardown(() => sim.close())
  const dir = mkdtempSync(join(tmpdir(), 'oac-token-proxy-cli-login-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const configPath = await writeSimConfig(dir, sim)
  return { sim, dir, configPath, stateFile: join(dir, 'state.json') }
}

interface StateFileJson {
  version: number
  credentials: Record<string, Record<string, unknown>>
}

const readState = (path: string): StateFileJson => JSON.parse(readFileSync(path, 'utf8')) as StateFileJson
const modeOf = (path: string): number => statSync(path).mode & 0o777

t.test('login (device, no TTY): prints the code, exits 0 once approved, saves the refresh token 0600', async (t) => {
  const { sim, dir, configPath, stateFile } = await setup(t)
  const bootstrap = readFileSync(join(dir, 'refresh-token'), 'utf8')
  const run = cli(t, ['login', '--config', configPath], dir)
  await waitFor(() => USER_CODE.test(run.stdout()), 10_000, 'the user code on stdout')
  const userCode = (USER_CODE.exec(run.stdout()) as RegExpExecArray)[1] as string
  t.same(
    sim.deviceRequests().map((r) => [r.userCode, r.status]),
    [[userCode, 'pending']],
  )
  sim.approveDevice(userCode)
  t.equal(await run.exited, 0, run.stderr())
  t.match(run.stdout(), `The refresh token is saved in ${stateFile}`)
  t.ok(existsSync(stateFile), 'the state file was written')
  if (!existsSync(stateFile)) return
  t.equal(modeOf(stateFile), 0o600)
  const state = readState(stateFile)
  t.same(Object.keys(state.credentials), ['default'])
  const saved = state.credentials.default
  t.same(Object.keys(saved ?? {}).sort(), [
    'accessToken',
    'accessTokenExpiresAtMs',
    'accessTokenObtainedAtMs',
    'identity',
    'refreshToken',
    'refreshTokenObtainedAtMs',
    'subject',
    'updatedAtMs',
  ])
  t.same(saved?.identity, { credential: 'default', idcsUrl: sim.idcsUrl, clientId: sim.clientId })
  t.match(saved, { subject: sim.user, refreshTokenObtainedAtMs: Number, updatedAtMs: Number })
  t.equal(state.version, 1)
  t.equal(saved?.refreshToken, sim.issued.refreshTokens.at(-1), 'the one the device login got')
  t.not(saved?.refreshToken, bootstrap, 'not the bootstrap token from the config')
  t.equal(sim.deviceRequests()[0]?.status, 'used')
})

t.test('serve after login uses the access token the login got: no rotation at start-up', async (t) => {
  const { sim, dir, configPath, stateFile } = await setup(t)
  const run = cli(t, ['login', '--config', configPath], dir)
  await waitFor(() => USER_CODE.test(run.stdout()), 10_000, 'the user code on stdout')
  sim.approveDevice((USER_CODE.exec(run.stdout()) as RegExpExecArray)[1] as string)
  t.equal(await run.exited, 0, run.stderr())
  const tokenCalls = (): number => sim.calls.filter((c) => c.path.endsWith('/oauth2/v1/token')).length
  const afterLogin = tokenCalls()
  const loginToken = readState(stateFile).credentials.default?.accessToken
  const tokenFile = join(dir, 'token.txt')
  const proxy = await spawnProxy(t, configPath, { OAC_PROXY_TOKEN_FILE: tokenFile })
  const res = await fetch(`${proxy.url}/api/20210901/snapshots`)
  t.equal(res.status, 200)
  t.equal(tokenCalls(), afterLogin, "the proxy made no token call: it serves the login's access token")
  t.ok(
    proxy.lines.some((l) => l.event === 'token.saved_used'),
    'token.saved_used is logged',
  )
  t.equal(sim.calls.filter((c) => c.server === 'oac').at(-1)?.tokenState, 'valid')
  // the token file holds the served token from the start, not only after the first refresh
  await waitFor(() => existsSync(tokenFile), 10_000, 'the token file')
  t.equal(readFileSync(tokenFile, 'utf8'), loginToken, 'the token file holds the login token')
  t.equal(modeOf(tokenFile), 0o600)
})

t.test('login --browser --no-open prints the authorize URL', async (t) => {
  const { sim, dir, configPath } = await setup(t)
  const run = cli(t, ['login', '--browser', '--no-open', '--config', configPath], dir)
  const prefix = sim.idcsUrl + '/oauth2/v1/authorize?'
  const printed = (): string | undefined =>
    run
      .stdout()
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.startsWith(prefix))
  await waitFor(() => printed() !== undefined, 10_000, 'the authorize URL on stdout')
  const q = new URL(printed() as string).searchParams
  t.equal(q.get('client_id'), sim.clientId)
  t.equal(q.get('code_challenge_method'), 'S256')
  t.match(q.get('redirect_uri'), /^http:\/\/127\.0\.0\.1:\d+\/callback$/)
  t.equal(run.child.exitCode, null, 'still waiting for the redirect')
})

t.test('login while a proxy holds the state file exits 3 with state_locked', async (t) => {
  const { sim, dir, configPath } = await setup(t)
  await spawnProxy(t, configPath)
  const run = cli(t, ['login', '--config', configPath], dir)
  t.equal(await run.exited, 3)
  t.match(run.stderr(), /^oac-token-proxy: state_locked: /)
  t.equal(sim.deviceRequests().length, 0, 'no login was started')
})

t.test('import tokens.json exits 0 and the state file holds its refresh token', async (t) => {
  const { sim, dir, configPath, stateFile } = await setup(t)
  const refreshToken = sim.issueRefreshToken()
  writeFileSync(
    join(dir, 'tokens.json'),
    JSON.stringify({ access_token: await sim.issueAccessToken(), refresh_token: refreshToken }),
    { mode: 0o600 },
  )
  const run = cli(t, ['import', 'tokens.json', '--config', configPath], dir)
  t.equal(await run.exited, 0, run.stderr())
  t.match(run.stdout(), stateFile)
  t.equal(modeOf(stateFile), 0o600)
  const state = readState(stateFile)
  t.match(state, { version: 1, credentials: { default: { refreshToken, subject: sim.user } } })
  t.same(sim.calls, [], 'the identity provider was not asked')
})

t.test('help login mentions --browser', async (t) => {
  const run = cli(t, ['help', 'login'], tmpdir())
  t.equal(await run.exited, 0)
  t.match(run.stdout(), /--browser/)
  t.equal(run.stderr(), '')
})
