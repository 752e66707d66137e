// Refresh-token rotation survives SIGKILL: a restarted proxy continues with the newest refresh token.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { startSimulator } from '../../src/simulator/index.js'
import { spawnProxy, waitFor, writeSimConfig } from '../helpers.js'

const KILLS = 3

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
    // kill well away from a refresh: the crash window itself is measured by the reliability suite
    await new Promise((r) => setTimeout(r, 150))
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
  t.equal(sim.stats().oacUnauthorized, 0)
})
