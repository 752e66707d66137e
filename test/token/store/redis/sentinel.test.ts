// Redis store through Sentinel: the master found by name, and versions that survive a failover.
import t from 'tap'
import { ProxyError } from '../../../../src/shared/errors.js'
import { redisMissing, startSentinelSet } from '../../../helpers/redis-server.js'
import { IDENTITY, openTestStore } from '../../../helpers/redis-store.js'
import { registerSecret } from '../../../helpers.js'

const missing = redisMissing() ?? redisMissing('redis-sentinel')

t.test('Sentinel: no write lost and the version continues across a failover', { skip: missing ?? false }, async (t) => {
  const set = await startSentinelSet(t)
  const store = await openTestStore(t, {
    sentinel: { masterName: set.masterName, nodes: [`127.0.0.1:${set.sentinelPort}`] },
    commandTimeoutMs: 1_000,
  })
  t.equal(store.describe().kind, 'sentinel')
  t.equal(store.describe().target, `sentinel ${set.masterName}@127.0.0.1:${set.sentinelPort}`)
  const cred = store.credential(IDENTITY)
  for (let v = 0; v < 3; v++) t.same(await cred.write(v, { refreshToken: `rt-${v + 1}` }), { ok: true, version: v + 1 })
  const lock = await cred.acquireLock({ waitMs: 0 })
  t.ok(lock, 'the lock works through Sentinel')
  await lock?.release()
  // replicated before the switch (WAIT: one replica acknowledged)
  t.equal(set.master.cli('WAIT', '1', '2000'), '1')

  const oldMaster = set.masterPort()
  await set.failover()
  t.not(set.masterPort(), oldMaster, 'the replica was promoted')

  // the client follows the new master; calls during the switch fail as store_unavailable, never hang
  const deadline = Date.now() + 20_000
  let read
  const failures: string[] = []
  const switchStarted = Date.now()
  for (;;) {
    try {
      read = await cred.read()
      const w = await cred.write(read?.version ?? 0, { refreshToken: 'after-failover' })
      if (w.ok) {
        t.equal(w.version, 4, 'the version continued from the old master')
        break
      }
    } catch (err) {
      failures.push(err instanceof ProxyError ? err.code : String(err))
    }
    if (Date.now() > deadline) throw new Error('no successful write after the failover')
    await new Promise((r) => setTimeout(r, 100))
  }
  t.comment(`writes stalled ${Date.now() - switchStarted} ms, ${failures.length} calls failed`)
  t.ok(
    failures.every((c) => c === 'store_unavailable'),
    'calls during the switch failed as store_unavailable',
  )
  t.equal(read?.state.refreshToken, 'rt-3', 'no write lost in the failover')
  const after = await cred.read()
  t.equal(after?.state.refreshToken, 'after-failover')
  t.equal(set.replica.cli('HGET', cred.keys.state, 'v'), '4', 'written on the promoted replica')
  await until(() => set.master.cli('ROLE').startsWith('slave'), 20_000)
  await until(() => set.master.cli('HGET', cred.keys.state, 'v') === '4', 10_000)
  t.pass('the old master follows the new one and holds the same version: nothing was written beside it')
})

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

t.test(
  'Sentinel with its own password: given, it connects; wrong, it is refused',
  { skip: missing ?? false },
  async (t) => {
    const password = 'sentinel-pw-' + 'Hq3Lx9Vd2Kp7'
    registerSecret(password)
    const set = await startSentinelSet(t, { sentinelPassword: password })
    const sentinel = { masterName: set.masterName, nodes: [`127.0.0.1:${set.sentinelPort}`] }
    const store = await openTestStore(t, { sentinel: { ...sentinel, password }, commandTimeoutMs: 1_000 })
    t.same(await store.credential(IDENTITY).write(0, {}), { ok: true, version: 1 })
    t.notOk(store.describe().target.includes(password))
    const wrong = password + '-wrong'
    registerSecret(wrong)
    const started = Date.now()
    const err = (await openTestStore(t, {
      sentinel: { ...sentinel, password: wrong },
      connectTimeoutMs: 1_000,
    }).catch((e: unknown) => e)) as ProxyError
    t.ok(err instanceof ProxyError, 'refused')
    t.equal(err.code, 'store_refused')
    t.notOk(JSON.stringify({ m: err.message, h: err.hint }).includes(wrong), 'the password is not quoted')
    t.ok(Date.now() - started < 5_000, `gave up after ${Date.now() - started} ms`)
  },
)
