// Simulated OAC snapshots and work requests progressing by (fake) clock time; read-only lists.

import t from 'tap'
import { FakeClock } from '../../../src/shared/clock.js'
import { startSimulator } from '../../../src/simulator/index.js'
import { accessToken, oacCall } from '../fixtures/sim-client.js'

t.test('snapshot create and delete through work requests', async (t) => {
  const clock = new FakeClock()
  const sim = await startSimulator({ clock, accessTokenLifetimeS: 3600 })
  t.teardown(() => sim.close())
  const token = await accessToken(sim)
  const json = 'application/json'

  const created = await oacCall(sim, '/api/20210901/snapshots', {
    token,
    method: 'POST',
    contentType: json,
    body: JSON.stringify({ type: 'CREATE', name: 'nightly', password: 'Secret#123' }),
  })
  t.equal(created.status, 202)
  const wrId = created.json().workRequestId as string
  t.equal(created.headers['oa-work-request-id'], wrId)

  const wr = async () => (await oacCall(sim, `/api/20210901/workRequests/${wrId}`, { token })).json()
  t.match(await wr(), { id: wrId, operationType: 'CREATE_SNAPSHOT', status: 'ACCEPTED' })
  t.notOk('timeStarted' in (await wr()))
  t.same((await oacCall(sim, '/api/20210901/snapshots', { token })).json(), { items: [] })

  await clock.advance(1000)
  t.match(await wr(), { status: 'IN_PROGRESS', percentComplete: 0, timeStarted: String })
  await clock.advance(1000)
  t.match(await wr(), { status: 'IN_PROGRESS', percentComplete: 50 })
  await clock.advance(1000)
  const done = await wr()
  t.match(done, { status: 'SUCCEEDED', percentComplete: 100, timeFinished: String })
  const resources = done.resources as Array<{ resourceId: string; actionResult: string }>
  t.equal(resources[0]?.actionResult, 'CREATED')
  const snapshotId = resources[0]?.resourceId ?? ''

  const listed = (await oacCall(sim, '/api/20210901/snapshots', { token })).json()
  t.match(listed, { items: [{ id: snapshotId, name: 'nightly', type: 'USER' }] })
  const one = await oacCall(sim, `/api/20210901/snapshots/${snapshotId}`, { token })
  t.equal(one.status, 200)
  t.equal(one.json().name, 'nightly')
  t.notOk(one.text.includes('Secret#123'), 'password is not echoed')

  const deleted = await oacCall(sim, `/api/20210901/snapshots/${snapshotId}`, {
    token,
    method: 'DELETE',
  })
  t.equal(deleted.status, 202)
  const delWr = deleted.json().workRequestId as string
  t.equal(deleted.headers['oa-work-request-id'], delWr)
  t.equal((await oacCall(sim, `/api/20210901/snapshots/${snapshotId}`, { token })).status, 200)
  await clock.advance(3000)
  const gone = await oacCall(sim, `/api/20210901/snapshots/${snapshotId}`, { token })
  t.equal(gone.status, 404)
  t.equal(gone.json().code, 'NotFound')
  const delDone = await oacCall(sim, `/api/20210901/workRequests/${delWr}`, { token })
  t.match(delDone.json(), { operationType: 'DELETE_SNAPSHOT', status: 'SUCCEEDED' })

  const noWr = await oacCall(sim, '/api/20210901/workRequests/wr-nope', { token })
  t.equal(noWr.status, 404)
  const noSnap = await oacCall(sim, '/api/20210901/snapshots/nope', { token, method: 'DELETE' })
  t.equal(noSnap.status, 404)
})

t.test('bad snapshot requests', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const token = await accessToken(sim)
  const bodies = [
    '{"type":"CREATE",',
    JSON.stringify({ type: 'CREATE', password: 'x' }),
    JSON.stringify({ type: 'CREATE', name: 'n' }),
    JSON.stringify({ type: 'RESTORE', name: 'n', password: 'x' }),
    '[]',
  ]
  for (const body of bodies) {
    const res = await oacCall(sim, '/api/20210901/snapshots', { token, method: 'POST', body })
    t.equal(res.status, 400, body)
    t.equal(res.json().code, 'InvalidParameter')
  }
})

t.test('read-only lists', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const token = await accessToken(sim)
  const workbooks = await oacCall(sim, '/api/20210901/catalog?type=workbooks', { token })
  t.equal(workbooks.status, 200)
  const items = JSON.parse(workbooks.text) as Array<{ type: string; name: string }>
  t.ok(items.length >= 2)
  t.ok(items.every((i) => i.type === 'workbooks'))
  for (const path of ['connections', 'datasets', 'dataflows']) {
    const res = await oacCall(sim, `/api/20210901/${path}`, { token })
    t.equal(res.status, 200, path)
    const list = JSON.parse(res.text) as unknown[]
    t.ok(Array.isArray(list) && list.length > 0, `${path} is a non-empty array`)
    t.ok(res.text.length < 4096, `${path} is small`)
  }
})
