// The operator commands of the built CLI: help, token, status and doctor against the simulator, and a graceful stop.
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { request } from 'undici'
import { DEFAULT_CREDENTIAL } from '../../src/config/options.js'
import { EXIT } from '../../src/cli/exit-codes.js'
import { startSimulator, type Simulator } from '../../src/simulator/index.js'
import type { StateFile } from '../../src/token/store/file.js'
import { CLI, leaks, secretsOf, spawnProxy, waitFor, writeSimConfig } from '../helpers.js'

const execFileP = promisify(execFile)
const COMMANDS = ['serve', 'login', 'token', 'status', 'doctor', 'import', 'demo', 'simulate']
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

interface Result {
  code: number
  stdout: string
  stderr: string
}

/** Runs the CLI with only PATH in its environment and no stdin; resolves whatever the exit code. */
async function cli(args: string[], options: { cwd?: string } = {}): Promise<Result> {
  try {
    const r = await execFileP(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '' },
      ...(options.cwd ? { cwd: options.cwd } : {}),
      timeout: 15_000,
      killSignal: 'SIGKILL',
    })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string; message: string }
    if (typeof e.code !== 'number') throw new Error(`cli ${args.join(' ')} did not exit by itself: ${e.message}`)
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

async function simulator(t: Test): Promise<Simulator> {
  const sim = await startSimulator({ accessTokenLifetimeS: 100 })
  t.teardown(() => sim.close())
  return sim
}

/** Output of status and doctor, per simulator, checked for secrets at the end of each scenario. */
function outputLog(): { add: (r: Result) => Result; text: () => string } {
  const parts: string[] = []
  return {
    add: (r) => {
      parts.push(r.stdout, r.stderr)
      return r
    },
    text: () => parts.join('\n'),
  }
}

/** Polls the proxy's /-/readyz until it answers 200: the startup refresh is done and its token is held. */
async function untilReady(url: string): Promise<void> {
  const until = Date.now() + 10_000
  for (;;) {
    const res = await request(`${url}/-/readyz`)
    await res.body.dump()
    if (res.statusCode === 200) return
    if (Date.now() > until) throw new Error(`the proxy at ${url} did not get ready`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The check lines of doctor's output (the last line is the summary). */
function checkLines(stdout: string): string[] {
  return stdout.trimEnd().split('\n').slice(0, -1)
}

t.test('help', async (t) => {
  t.test('--help lists every command', async (t) => {
    const r = await cli(['--help'])
    t.equal(r.code, 0)
    for (const command of COMMANDS) t.match(r.stdout, new RegExp(`^ {2}${command} `, 'm'), command)
  })
  for (const command of ['token', 'status', 'doctor']) {
    t.test(`help ${command} prints its own usage`, async (t) => {
      const r = await cli(['help', command])
      t.equal(r.code, 0)
      t.match(r.stdout, new RegExp(`^Usage: oac-token-proxy ${command} `))
      t.notMatch(r.stdout, /^Commands:/m, 'not the main help')
    })
  }
  t.test('an unknown flag to token exits 2 with usage', async (t) => {
    const r = await cli(['token', '--bogus'])
    t.equal(r.code, 2)
    t.equal(r.stdout, '')
    t.match(r.stderr, /^oac-token-proxy: usage: .*--bogus/)
    t.match(r.stderr, 'help token')
  })
})

t.test('token and status, with and without a running proxy', async (t) => {
  const sim = await simulator(t)
  const dir = t.testdir({})
  const configPath = await writeSimConfig(dir, sim)
  const statePath = join(dir, 'state.json')
  const outputs = outputLog()
  const proxy = await spawnProxy(t, configPath)
  await untilReady(proxy.url)

  await t.test('token asks the running proxy', async (t) => {
    const before = sim.stats().refreshGrants
    const r = await cli(['token', '--config', configPath])
    t.equal(r.code, 0)
    t.equal(r.stderr, '', 'nothing on stderr')
    const lines = r.stdout.split('\n')
    t.equal(lines.length, 2, 'one line')
    t.equal(lines[1], '', 'ends with a newline')
    const token = lines[0] as string
    t.match(token, JWT, 'looks like a JWT')
    t.equal(sim.stats().refreshGrants, before, 'the proxy answered from its held token: no refresh')

    const json = await cli(['token', '--config', configPath, '--json'])
    t.equal(json.code, 0)
    const body = JSON.parse(json.stdout) as { accessToken: string; expiresAt: string; source: string }
    t.equal(body.source, 'proxy')
    t.match(body.accessToken, JWT)
    t.equal(new Date(body.expiresAt).toISOString(), body.expiresAt, 'expiresAt is an ISO date')
    t.ok(Date.parse(body.expiresAt) > Date.now(), 'in the future')
    t.equal(sim.stats().refreshGrants, before, 'still no refresh')

    const res = await request(`${sim.oacUrl}/api/20210901/snapshots`, { headers: { authorization: `Bearer ${token}` } })
    await res.body.dump()
    t.equal(res.statusCode, 200, 'the printed token works against OAC directly')
  })

  await t.test('status with a running proxy', async (t) => {
    const r = outputs.add(await cli(['status', '--config', configPath]))
    t.equal(r.code, 0)
    t.match(r.stdout, /^proxy: running \(pid \d+\)/m)
    t.match(r.stdout, new RegExp(`^credential ${DEFAULT_CREDENTIAL} \\(refresh_token\\): valid$`, 'm'))
    t.match(r.stdout, new RegExp(`^ {2}signed in as: +${sim.user.replace(/\./g, '\\.')}$`, 'm'))
    t.match(r.stdout, /^ {2}access token: {3}expires in /m)

    const json = outputs.add(await cli(['status', '--config', configPath, '--json']))
    t.equal(json.code, 0)
    const report = JSON.parse(json.stdout) as { running?: { pid: number }; credentials: Array<{ health: string }> }
    t.equal(report.credentials[0]?.health, 'valid')
    t.equal(report.running?.pid, proxy.pid)
  })

  await t.test('token without a running proxy refreshes in-process and saves the rotated refresh token', async (t) => {
    proxy.child.kill('SIGTERM')
    t.equal(await proxy.exited, 0, 'the proxy exits 0 on SIGTERM')
    t.notOk(existsSync(`${statePath}.lock`), 'the proxy released its lock')
    const before = sim.stats().refreshGrants

    const r = await cli(['token', '--config', configPath, '--json'])
    t.equal(r.code, 0, r.stderr)
    const body = JSON.parse(r.stdout) as { accessToken: string; expiresAt: string; source: string }
    t.equal(body.source, 'refresh')
    t.match(body.accessToken, JWT)
    t.ok(Date.parse(body.expiresAt) > Date.now(), 'expires in the future')
    t.equal(sim.stats().refreshGrants, before + 1, 'one refresh')

    const state = JSON.parse(readFileSync(statePath, 'utf8')) as StateFile
    t.equal(
      state.credentials[DEFAULT_CREDENTIAL]?.refreshToken,
      sim.issued.refreshTokens.at(-1),
      'the state file holds the newest refresh token',
    )
    t.notOk(existsSync(`${statePath}.lock`), 'the lock file is gone')
    t.equal(sim.stats().staleRefreshTokenUses, 0, 'no used refresh token was presented')

    const res = await request(`${sim.oacUrl}/api/20210901/snapshots`, {
      headers: { authorization: `Bearer ${body.accessToken}` },
    })
    await res.body.dump()
    t.equal(res.statusCode, 200, 'the refreshed token works against OAC')
  })

  await t.test('status without a running proxy reads the state file', async (t) => {
    const r = outputs.add(await cli(['status', '--config', configPath]))
    t.equal(r.code, EXIT.notRunning, 'no proxy running: exit 7')
    t.match(r.stdout, /^proxy: not running/m)
    t.match(r.stdout, new RegExp(`^credential ${DEFAULT_CREDENTIAL} \\(refresh_token\\): stopped$`, 'm'))
    t.match(r.stdout, /^ {2}refresh token: {2}received \d+ s ago/m)

    const json = outputs.add(await cli(['status', '--config', configPath, '--json']))
    t.equal(json.code, EXIT.notRunning)
    const report = JSON.parse(json.stdout) as { running?: unknown; credentials: Array<{ health: string }> }
    t.notOk(report.running)
    t.equal(report.credentials[0]?.health, 'stopped')
  })

  t.test('status prints no secret', async (t) => {
    t.ok(sim.issued.refreshTokens.length >= 3, 'several refresh tokens were issued')
    t.same(leaks(outputs.text(), secretsOf(sim)), [])
  })
})

t.test('doctor', async (t) => {
  const sim = await simulator(t)
  const outputs = outputLog()

  await t.test('a good configuration passes every check', async (t) => {
    const dir = t.testdir({})
    const configPath = await writeSimConfig(dir, sim)
    const r = outputs.add(await cli(['doctor', '--config', configPath]))
    t.equal(r.code, 0, r.stdout)
    const lines = checkLines(r.stdout)
    t.ok(lines.length >= 5, 'several checks')
    for (const line of lines) t.match(line, /^\[(ok {2}|warn)\] /, line)
    t.match(r.stdout.trimEnd().split('\n').at(-1), /^all checks passed$/)
    t.ok(
      lines.some((l) => l.startsWith('[ok  ] OAC discovery: ') && l.includes('ANALYTICSINST_simhash0001')),
      'OAC discovery names the OAC app',
    )
    t.ok(
      lines.some((l) => l.startsWith('[ok  ] OAC accepts the token: ')),
      'OAC accepts the token',
    )
  })

  await t.test('a scope without offline_access fails', async (t) => {
    const dir = t.testdir({})
    const configPath = await writeSimConfig(dir, sim, { scope: sim.scope.replace(/\s*offline_access/, '') })
    const r = outputs.add(await cli(['doctor', '--config', configPath]))
    t.equal(r.code, 1)
    t.match(r.stdout, /^\[FAIL\] scope: .*offline_access/m)
    t.match(r.stdout, /^\d+ check\(s\) failed$/m)
  })

  await t.test(
    '--oac-url alone: the configuration fails, but the identity domain and scope are discovered',
    async (t) => {
      const dir = t.testdir({})
      const r = outputs.add(await cli(['doctor', '--oac-url', sim.oacUrl], { cwd: dir }))
      t.equal(r.code, 1)
      t.match(r.stdout, /^\[FAIL\] configuration: /m)
      const next = r.stdout.split('\n').find((l) => l.startsWith('[warn] next step: '))
      t.ok(next, 'a next step line')
      t.match(next, `idcsUrl: ${sim.idcsUrl}`)
      t.match(next, `scope: "${sim.scope}"`)
      t.match(r.stdout, new RegExp(`^\\[ok {2}\\] identity domain: ${sim.idcsUrl.replace(/\./g, '\\.')} answers`, 'm'))
    },
  )

  t.test('doctor prints no secret', async (t) => {
    t.ok(sim.issued.refreshTokens.length >= 2, 'refresh tokens were issued')
    t.same(leaks(outputs.text(), secretsOf(sim)), [])
  })
})

t.test('SIGTERM drains an in-flight request, then the proxy stops', async (t) => {
  const sim = await simulator(t)
  const dir = t.testdir({})
  const configPath = await writeSimConfig(dir, sim)
  const proxy = await spawnProxy(t, configPath)
  await untilReady(proxy.url)

  sim.faults.oac.next({ kind: 'latency', ms: 800 })
  const pending = request(`${proxy.url}/api/20210901/snapshots`).then(async (res) => ({
    status: res.statusCode,
    body: await res.body.text(),
  }))
  pending.catch(() => {})
  await waitFor(
    () => sim.calls.some((c) => c.server === 'oac' && c.fault === 'latency'),
    5000,
    'the slow request to reach OAC',
  )
  await new Promise((r) => setTimeout(r, 100))
  proxy.child.kill('SIGTERM')

  const res = await pending
  const answeredAt = Date.now()
  t.equal(res.status, 200, 'the in-flight request completes')
  t.same(JSON.parse(res.body), { items: [] })
  t.equal(await proxy.exited, 0, 'the process exits 0')
  // nothing is in flight any more: an idle keep-alive connection (this client's) must not hold the exit back
  t.ok(Date.now() - answeredAt < 2000, `exits promptly once drained (${Date.now() - answeredAt} ms)`)

  const events = proxy.lines.map((l) => l.event)
  const stopping = events.indexOf('proxy.stopping')
  const stopped = events.indexOf('proxy.stopped')
  t.ok(stopping >= 0, 'proxy.stopping logged')
  t.ok(stopped > stopping, 'proxy.stopped logged after proxy.stopping')
  t.equal(proxy.lines[stopping]?.signal, 'SIGTERM')

  await t.rejects(request(`${proxy.url}/-/healthz`), { code: 'ECONNREFUSED' }, 'a new connection is refused')
  t.notOk(existsSync(join(dir, 'state.json.lock')), 'the lock is released')
})
