// A state file belongs to one identity domain and client: another configuration is refused and never overwrites it.
import t, { type Test } from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_CREDENTIAL } from '../../../src/config/options.js'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import type { StateFile } from '../../../src/token/store/file.js'
import { runCli } from '../../helpers/cli-run.js'
import { leaks, secretsOf, spawnProxy, waitFor, writeSimConfig } from '../../helpers.js'

async function simulator(t: Test, clientId?: string): Promise<Simulator> {
  const sim = await startSimulator({ accessTokenLifetimeS: 100, ...(clientId ? { clientId } : {}) })
  t.teardown(() => sim.close())
  return sim
}

/** A fresh folder inside the test's own. */
function folder(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'oac-proxy-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A folder with config.yaml for `sim` whose stateFile is `statePath`. */
async function configFor(
  t: Test,
  sim: Simulator,
  statePath: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  return writeSimConfig(folder(t), sim, { stateFile: statePath, ...extra })
}

function state(path: string): StateFile {
  return JSON.parse(readFileSync(path, 'utf8')) as StateFile
}

t.test('each write records the identity domain, client and credential of the entry', async (t) => {
  const sim = await simulator(t)
  const statePath = join(folder(t), 'state.json')
  const r = await runCli(['token', '--config', await configFor(t, sim, statePath)])
  t.equal(r.code, 0, r.stderr)
  t.same(state(statePath).credentials[DEFAULT_CREDENTIAL]?.identity, {
    credential: DEFAULT_CREDENTIAL,
    idcsUrl: sim.idcsUrl,
    clientId: sim.clientId,
  })
})

t.test(
  'a configuration for another identity domain is refused by every command and the file is untouched',
  async (t) => {
    const simA = await simulator(t)
    const simB = await simulator(t)
    const statePath = join(folder(t), 'state.json')
    const first = await runCli(['token', '--config', await configFor(t, simA, statePath)])
    t.equal(first.code, 0, first.stderr)
    const before = readFileSync(statePath, 'utf8')
    const configB = await configFor(t, simB, statePath)
    const tokensFile = join(
      t.testdir({ 'tokens.json': JSON.stringify({ refresh_token: simB.issueRefreshToken() }) }),
      'tokens.json',
    )
    const callsBefore = simB.stats().tokenCalls
    for (const args of [
      ['serve', '--config', configB],
      ['token', '--config', configB],
      ['status', '--config', configB],
      ['login', '--config', configB],
      ['import', tokensFile, '--config', configB],
    ]) {
      const r = await runCli(args)
      t.equal(r.code, 3, `${args[0]} exits 3 (state)`)
      t.match(r.stderr, /state_mismatch/, `${args[0]} names the code`)
      t.ok(r.stderr.includes(simA.idcsUrl) && r.stderr.includes(simB.idcsUrl), `${args[0]} names both identity domains`)
      t.same(leaks(r.stdout + r.stderr, [...secretsOf(simA), ...secretsOf(simB)]), [], `${args[0]} leaks nothing`)
      t.equal(readFileSync(statePath, 'utf8'), before, `${args[0]} left the state file as it was`)
    }
    t.equal(simB.stats().tokenCalls, callsBefore, 'no token call went to the other identity domain')
    const again = await runCli(['token', '--config', await configFor(t, simA, statePath)])
    t.equal(again.code, 0, 'the original configuration still works with its refresh token')
  },
)

t.test('another client id on the same identity domain is refused too', async (t) => {
  const sim = await simulator(t)
  const statePath = join(folder(t), 'state.json')
  t.equal((await runCli(['token', '--config', await configFor(t, sim, statePath)])).code, 0)
  const before = readFileSync(statePath, 'utf8')
  const other = await configFor(t, sim, statePath, { clientId: 'another-client' })
  const r = await runCli(['token', '--config', other])
  t.equal(r.code, 3)
  t.match(r.stderr, /client another-client/)
  t.match(r.stderr, new RegExp(`client ${sim.clientId}`))
  t.equal(readFileSync(statePath, 'utf8'), before)
})

t.test('a trailing slash on the identity domain URL is the same identity domain', async (t) => {
  const sim = await simulator(t)
  const statePath = join(folder(t), 'state.json')
  t.equal((await runCli(['token', '--config', await configFor(t, sim, statePath)])).code, 0)
  const other = await configFor(t, sim, statePath, { idcsUrl: sim.idcsUrl + '/' })
  const r = await runCli(['status', '--config', other])
  t.not(r.code, 3, r.stderr)
})

t.test('a state file written before identities were recorded keeps working and gains the record', async (t) => {
  const sim = await simulator(t)
  const statePath = join(folder(t), 'state.json')
  const oldRefreshToken = sim.issueRefreshToken()
  const old: StateFile = {
    version: 1,
    credentials: {
      [DEFAULT_CREDENTIAL]: {
        refreshToken: oldRefreshToken,
        refreshTokenObtainedAtMs: Date.now(),
        updatedAtMs: Date.now(),
      },
    },
  }
  writeFileSync(statePath, JSON.stringify(old), { mode: 0o600 })
  // no configured refresh token: the old entry's is the only one there is
  const config = await configFor(t, sim, statePath, { refreshToken: undefined })
  const status = await runCli(['status', '--config', config])
  t.not(status.code, 3, status.stderr)
  const r = await runCli(['token', '--config', config])
  t.equal(r.code, 0, r.stderr)
  t.equal(sim.stats().refreshGrants, 1, "the old entry's refresh token was used")
  t.equal(sim.stats().staleRefreshTokenUses, 0)
  const entry = state(statePath).credentials[DEFAULT_CREDENTIAL]
  t.not(entry?.refreshToken, oldRefreshToken, 'and its rotated successor saved in its place')
  t.same(entry?.identity, { credential: DEFAULT_CREDENTIAL, idcsUrl: sim.idcsUrl, clientId: sim.clientId })
  const again = await configFor(t, sim, statePath, { refreshToken: undefined, clientId: 'another-client' })
  t.equal((await runCli(['token', '--config', again])).code, 3, 'once recorded, the identity is checked')
})

t.test('token and status refuse to ask a running proxy that serves another identity domain', async (t) => {
  const simA = await simulator(t)
  const simB = await simulator(t)
  const statePath = join(folder(t), 'state.json')
  const proxy = await spawnProxy(t, await configFor(t, simA, statePath))
  await waitFor(() => proxy.lines.some((l) => l.event === 'token.refreshed'), 10_000, 'the first refresh')
  const configB = await configFor(t, simB, statePath)
  for (const command of ['token', 'status']) {
    const r = await runCli([command, '--config', configB])
    t.equal(r.code, 3, `${command} exits 3`)
    t.match(r.stderr, /state_mismatch/)
    t.notMatch(r.stdout, /eyJ/, `${command} printed no token`)
  }
})
