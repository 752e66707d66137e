// serve binds its port (holding the state lock) before its first refresh: a proxy that cannot listen rotates nothing.
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { busyPort, runCli, simulatorFor, tempFolder } from '../helpers/cli-run.js'
import { writeSimConfig } from '../helpers.js'

t.test('with its port taken, serve exits 1 without calling the token endpoint', async (t) => {
  const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
  const dir = tempFolder(t)
  const port = await busyPort(t)
  const config = await writeSimConfig(dir, sim, { listen: { port } })
  const refreshToken = readFileSync(join(dir, 'refresh-token'), 'utf8')
  const before = sim.stats()
  const r = await runCli(['serve', '--config', config])
  t.equal(r.code, 1, 'exit 1 (runtime failure; systemd retries it)')
  t.match(r.stderr, new RegExp(`cannot listen.*${port}`))
  t.equal(sim.stats().tokenCalls, before.tokenCalls, 'no token call: nothing rotated')
  t.notOk(existsSync(join(dir, 'state.json')), 'no state written')
  t.notOk(existsSync(join(dir, 'state.json.lock')), 'the lock is released')
  // the configured refresh token is still the live one
  const token = await runCli(['token', '--config', config])
  t.equal(token.code, 0, token.stderr)
  t.equal(sim.stats().staleRefreshTokenUses, 0, 'the refresh token was never burnt')
  t.equal(readFileSync(join(dir, 'refresh-token'), 'utf8'), refreshToken)
})

t.test('a proxy that starts refreshes once, after it listens', async (t) => {
  const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
  const dir = tempFolder(t)
  const config = await writeSimConfig(dir, sim)
  const { spawnProxy, waitFor } = await import('../helpers.js')
  const proxy = await spawnProxy(t, config)
  await waitFor(() => proxy.lines.some((l) => l.event === 'token.refreshed'), 10_000, 'the first refresh')
  const events = proxy.lines.map((l) => l.event)
  t.ok(events.indexOf('proxy.listening') < events.indexOf('token.refreshed'), 'listening is logged before the refresh')
  t.equal(sim.stats().refreshGrants, 1)
})
