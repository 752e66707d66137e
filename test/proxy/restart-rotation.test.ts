// Refresh-token rotation survives SIGKILL: a restarted proxy continues with the newest refresh token.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { startSimulator } from '../../src/simulator/index.js'
import { spawnProxy, waitFor, writeSimConfig } from '../helpers.js'

const KILLS = 3

function newestOnDisk(statePath: string, issued: string[]): boolean {
  try {
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as {
      credentials: { default?: { refreshToken?: string } }
    }
    return state.credentials.default?.refreshToken === issued[issued.length - 1]
  } catch {
    return false
  }
}

t.test('SIGKILL between refreshes, restart: newest refresh token used, never a stale one', async (t) => {
  const sim = await startSimulator({ accessTokenLifetimeS: 1 })
  t.teardown(() => sim.close())
  const dir = t.testdir()
  const configPath = await writeSimConfig(dir, sim)
  const statePath = join(dir, 'state.json')

  for (let round = 0; round <= KILLS; round++) {
    const proxy = await spawnProxy(t, configPath)
    const res = await request(`${proxy.url}/api/20210901/snapshots`)
    t.equal(res.statusCode, 200, `round ${round}: request through the proxy succeeds`)
    await res.body.dump()
    if (round === KILLS) {
      proxy.child.kill('SIGTERM')
      t.equal(await proxy.exited, 0, 'SIGTERM exits cleanly')
      break
    }
    // let a few rotations happen (1 s tokens refresh about twice a second)
    const target = sim.stats().refreshGrants + 2
    await waitFor(() => sim.stats().refreshGrants >= target, 10_000, 'two refreshes')
    // kill once the newest refresh token is on disk, i.e. between refreshes: the crash window
    // itself (receipt to fsync) is measured by the reliability suite
    await waitFor(() => newestOnDisk(statePath, sim.issued.refreshTokens), 5_000, 'the newest token on disk')
    proxy.child.kill('SIGKILL')
    t.equal(await proxy.exited, 'SIGKILL')
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as { credentials: { default: { refreshToken: string } } }
    t.equal(
      state.credentials.default.refreshToken,
      sim.issued.refreshTokens[sim.issued.refreshTokens.length - 1],
      `round ${round}: the state file holds the newest refresh token`,
    )
  }
  t.equal(sim.stats().staleRefreshTokenUses, 0, 'the identity provider never saw a stale refresh token')
  t.ok(sim.stats().refreshGrants >= KILLS * 2 + 1)
  // (no assertion on OAC 401s here: with 1 s tokens, IDCS's whole-second exp can end a token up to
  // 0.9 s early; the proxy's replay absorbs that and every request above got its 200)
})
