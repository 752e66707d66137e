// Redis store lock: one holder at a time, renewal while held, expiry, compare-and-delete, bounded and abortable waits.
import t from 'tap'
import { redisMissing, startRedis } from '../../../helpers/redis-server.js'
import { IDENTITY, openTestStore } from '../../../helpers/redis-store.js'
import { DEFAULT_LOCK_TTL_MS, lockTtlFor } from '../../../../src/token/store/redis/index.js'

const missing = redisMissing()

t.test('the lock TTL stays well above the token endpoint timeout', async (t) => {
  t.equal(lockTtlFor(5_000), DEFAULT_LOCK_TTL_MS)
  t.equal(lockTtlFor(30_000), 90_000)
  t.ok(DEFAULT_LOCK_TTL_MS >= 30_000)
})

t.test('Redis store lock', { skip: missing ?? false }, async (t) => {
  const redis = await startRedis(t)
  const connection = { url: redis.url }

  t.test('only one of many racing replicas holds the lock', async (t) => {
    const stores = await Promise.all(
      Array.from({ length: 6 }, () => openTestStore(t, connection, { keyPrefix: 'l-excl', lockTtlMs: 5_000 })),
    )
    const locks = await Promise.all(stores.map((s) => s.credential(IDENTITY).acquireLock({ waitMs: 0 })))
    const held = locks.filter((l) => l !== undefined)
    t.equal(held.length, 1, 'exactly one acquired')
    t.equal(redis.cli('GET', stores[0]!.credential(IDENTITY).keys.lock), held[0]?.owner, 'the owner id is stored')
    t.equal(
      stores.reduce((n, s) => n + s.metrics.count('lock_acquire', 'timeout'), 0),
      5,
      'the others gave up at once',
    )
    t.equal(await held[0]?.release(), true)
    t.equal(redis.cli('EXISTS', stores[0]!.credential(IDENTITY).keys.lock), '0', 'released')
  })

  t.test('a waiter gets the lock once the holder releases it, within its wait', async (t) => {
    const a = (await openTestStore(t, connection, { keyPrefix: 'l-wait' })).credential(IDENTITY)
    const bStore = await openTestStore(t, connection, { keyPrefix: 'l-wait' })
    const b = bStore.credential(IDENTITY)
    const first = await a.acquireLock({ waitMs: 0 })
    t.ok(first)
    const waiting = b.acquireLock({ waitMs: 3_000 })
    setTimeout(() => void first?.release(), 150)
    const second = await waiting
    t.ok(second?.held, 'acquired after the release')
    t.not(second?.owner, first?.owner, 'a fresh owner id per acquisition')
    const snap = bStore.metrics.snapshot()
    t.equal(snap.lockWaits.count, 1)
    t.ok(snap.lockWaits.totalMs >= 100, `waited ${snap.lockWaits.totalMs} ms`)
    await second?.release()
  })

  t.test('the wait is bounded and can be aborted', async (t) => {
    const a = (await openTestStore(t, connection, { keyPrefix: 'l-bound' })).credential(IDENTITY)
    const b = (await openTestStore(t, connection, { keyPrefix: 'l-bound' })).credential(IDENTITY)
    const held = await a.acquireLock({ waitMs: 0 })
    t.teardown(() => held?.release())
    const started = Date.now()
    t.equal(await b.acquireLock({ waitMs: 200 }), undefined, 'undefined after the wait')
    const took = Date.now() - started
    t.ok(took >= 190 && took < 1_000, `gave up after ${took} ms`)
    const controller = new AbortController()
    const reason = new Error('shutting down')
    setTimeout(() => controller.abort(reason), 50)
    const abortStarted = Date.now()
    await t.rejects(b.acquireLock({ waitMs: 10_000, signal: controller.signal }), reason)
    t.ok(Date.now() - abortStarted < 1_000, 'the abort ends the wait at once')
  })

  t.test('a held lock renews itself past its TTL; a released one expires no other', async (t) => {
    const a = (await openTestStore(t, connection, { keyPrefix: 'l-renew', lockTtlMs: 300 })).credential(IDENTITY)
    const b = (await openTestStore(t, connection, { keyPrefix: 'l-renew', lockTtlMs: 300 })).credential(IDENTITY)
    const held = await a.acquireLock({ waitMs: 0 })
    await new Promise((r) => setTimeout(r, 900))
    t.ok(held?.held, 'still held after three TTLs')
    t.equal(await b.acquireLock({ waitMs: 0 }), undefined, 'nobody else could take it')
    const pttl = Number(redis.cli('PTTL', a.keys.lock))
    t.ok(pttl > 0 && pttl <= 300, `TTL refreshed (${pttl} ms left)`)
    await held?.release()
    t.notOk(held?.held)
    t.ok(held?.signal.aborted, 'the signal ends with the release')
  })

  t.test('an expired lock goes to another replica; the stale owner can neither renew nor delete it', async (t) => {
    const aStore = await openTestStore(t, connection, { keyPrefix: 'l-stale', lockTtlMs: 150 })
    const a = aStore.credential(IDENTITY)
    const b = (await openTestStore(t, connection, { keyPrefix: 'l-stale', lockTtlMs: 10_000 })).credential(IDENTITY)
    const stale = await a.acquireLock({ waitMs: 0 })
    t.ok(stale)
    // the holder stalls (a long GC pause, a frozen process): its key expires behind it
    redis.cli('PEXPIRE', a.keys.lock, '1')
    await new Promise((r) => setTimeout(r, 20))
    const fresh = await b.acquireLock({ waitMs: 0 })
    t.ok(fresh, 'another replica takes the expired lock')
    t.equal(await stale?.renew(), false, 'the stale owner cannot renew it')
    t.ok(stale?.signal.aborted, 'and learns it lost the lock')
    t.equal(await stale?.release(), false, 'nor delete it')
    t.equal(redis.cli('GET', b.keys.lock), fresh?.owner, "the new owner's lock is intact")
    t.ok(aStore.metrics.count('lock_renew', 'lost') >= 1)
    t.equal(await fresh?.release(), true)
  })

  t.test('closing a store releases the locks it holds', async (t) => {
    const closing = await openTestStore(t, connection, { keyPrefix: 'l-close' })
    const other = (await openTestStore(t, connection, { keyPrefix: 'l-close' })).credential(IDENTITY)
    const lock = await closing.credential(IDENTITY).acquireLock({ waitMs: 0 })
    t.ok(lock)
    await closing.close()
    t.notOk(lock?.held)
    t.equal(redis.cli('EXISTS', other.keys.lock), '0', 'deleted, not left to expire')
    const next = await other.acquireLock({ waitMs: 0 })
    t.ok(next, 'another replica takes it at once')
    await next?.release()
  })

  t.test('a lock TTL below 100 ms is refused', async (t) => {
    for (const lockTtlMs of [0, 50, 1.5, -1])
      await t.rejects(openTestStore(t, connection, { lockTtlMs }), { code: 'config_invalid' }, String(lockTtlMs))
  })

  t.test('a lock of one credential does not block another', async (t) => {
    const store = await openTestStore(t, connection, { keyPrefix: 'l-two' })
    const one = await store.credential(IDENTITY).acquireLock({ waitMs: 0 })
    const two = await store.credential({ ...IDENTITY, credentialName: 'other' }).acquireLock({ waitMs: 0 })
    t.ok(one && two)
    await one?.release()
    await two?.release()
  })
})
