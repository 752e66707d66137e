// A fleet's first login: one replica runs the device login, the others show its code, and all serve once it is approved.
import t from 'tap'
import { request } from 'undici'
import { waitFor } from '../helpers.js'
import { redisMissing } from '../helpers/redis-server.js'
import { startFleet } from '../helpers/fleet.js'

interface Status {
  credentials: Array<{ login?: { userCode: string } }>
}

t.test('headless login in a fleet: one device login for all replicas', { skip: redisMissing() ?? false }, async (t) => {
  const fleet = await startFleet(t, 3, {}, { noRefreshToken: true })
  const codes = () => fleet.logs.flatMap((l) => l.events('login.device_code') as Array<{ userCode: string }>)
  await waitFor(() => codes().length >= 1, 5000, 'a device code in a log')
  // the others look again every 5 s (injected time) and find the first replica's login; a look reads Redis, so
  // each step leaves it a moment of real time to answer
  const showing = () =>
    Promise.all(
      fleet.proxies.map(
        async (p) =>
          ((await (await request(`${p.adminUrl}/-/status`)).body.json()) as Status).credentials[0]?.login?.userCode,
      ),
    )
  let shown = await showing()
  for (let i = 0; i < 20 && shown.some((c) => c === undefined); i++) {
    await fleet.clock.advance(5_000)
    await new Promise((r) => setTimeout(r, 50))
    shown = await showing()
  }
  t.equal(codes().length, 1, 'one replica asked for a device code')
  const code = codes()[0]!.userCode
  t.same(shown, [code, code, code], 'every replica shows the same code')

  fleet.sim.approveDevice(code)
  for (let i = 0; i < 30 && !fleet.proxies.every((p) => p.manager.peek()); i++) {
    await fleet.clock.advance(5_000)
    await new Promise((r) => setTimeout(r, 50))
    for (const p of fleet.proxies) await p.manager.settled()
  }
  const statuses = await Promise.all(
    fleet.proxies.map(async (p) => {
      const res = await request(`${p.url}/api/20210901/snapshots`)
      await res.body.dump()
      return res.statusCode
    }),
  )
  t.same(statuses, [200, 200, 200], 'every replica serves after one approval')
  t.equal(fleet.logs.flatMap((l) => l.events('login.succeeded')).length, 1, 'one replica signed in')
  t.ok(fleet.sim.stats().refreshGrants <= 1, `${fleet.sim.stats().refreshGrants} refreshes after the login`)
  t.equal(fleet.sim.stats().staleRefreshTokenUses, 0)
})
