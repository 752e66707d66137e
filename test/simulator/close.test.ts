// Simulator shutdown: close() ends hanging and delayed requests promptly and frees the ports.

import t from 'tap'
import { request } from 'undici'
import { startSimulator } from '../../src/simulator/index.js'
import { accessToken, refresh } from './fixtures/sim-client.js'

t.test('close() with hanging and delayed requests finishes fast', async (t) => {
  const sim = await startSimulator()
  const token = await accessToken(sim)
  sim.faults.oac.always({ kind: 'hang' })
  sim.faults.idcs.next({ kind: 'latency', ms: 60_000 })

  const hung = [1, 2, 3].map(() =>
    request(sim.oacUrl + '/api/20210901/snapshots', {
      headers: { authorization: `Bearer ${token}` },
    }).then(
      () => 'answered',
      () => 'failed',
    ),
  )
  const delayed = refresh(sim, sim.issueRefreshToken()).then(
    () => 'answered',
    () => 'failed',
  )
  while (sim.calls.length < 5) await new Promise((resolve) => setTimeout(resolve, 10))

  const started = performance.now()
  await sim.close()
  t.ok(performance.now() - started < 1000, 'closed promptly')
  t.same(await Promise.all([...hung, delayed]), ['failed', 'failed', 'failed', 'failed'])
  await t.rejects(request(sim.oacUrl + '/api/20210901/snapshots'), 'port closed')
  await sim.close()
  t.pass('second close() is harmless')
})

t.test('fixed ports and idle keep-alive connections', async (t) => {
  const first = await startSimulator()
  const idcsPort = Number(new URL(first.idcsUrl).port)
  const oacPort = Number(new URL(first.oacUrl).port)
  await (await request(first.idcsUrl + '/admin/v1/SigningCert/jwk')).body.dump()
  const started = performance.now()
  await first.close()
  t.ok(performance.now() - started < 1000, 'keep-alive socket did not hold close() up')

  const second = await startSimulator({ idcsPort, oacPort })
  t.teardown(() => second.close())
  t.equal(second.idcsUrl, `http://127.0.0.1:${idcsPort}`)
  t.equal(second.oacUrl, `http://127.0.0.1:${oacPort}`)
  await t.rejects(startSimulator({ idcsPort }), { code: 'EADDRINUSE' })
})
