// proxy/transfer-gc.ts: while streamed bodies are in flight, a minor collection each time array-buffer memory grew
// by the threshold; nothing watched otherwise.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { TransferGc, exposedMinorGc } from '../../src/proxy/transfer-gc.js'

const MB = 2 ** 20

/** A gc whose array-buffer memory the test sets; a collection drops it to `live`. */
function fakeMemory() {
  const m = { held: 10 * MB, live: 10 * MB, looks: 0, collections: 0 }
  return {
    m,
    arrayBuffers: () => {
      m.looks++
      return m.held
    },
    collect: () => {
      m.collections++
      m.held = m.live
    },
  }
}

/** Waits (a bounded time) until `cond` holds; the interval under test is 1 ms. */
async function until(cond: () => boolean): Promise<boolean> {
  for (let i = 0; i < 500 && !cond(); i++) await sleep(2)
  return cond()
}

t.test('collects once the held memory grew by the threshold, and measures growth from what stayed', async (t) => {
  const f = fakeMemory()
  const gc = new TransferGc({
    intervalMs: 1,
    thresholdBytes: 16 * MB,
    arrayBuffers: f.arrayBuffers,
    collect: f.collect,
  })
  const end = gc.begin()
  t.equal(gc.inFlight, 1)
  f.m.held = 25 * MB // grew by 15 MB: below the threshold
  t.ok(await until(() => f.m.looks >= 5))
  t.equal(f.m.collections, 0)
  f.m.held = 26 * MB // grew by 16 MB
  t.ok(await until(() => f.m.collections === 1))
  t.equal(gc.collections, 1)
  t.equal(f.m.held, 10 * MB)
  // live memory grew (more transfers at once): the next collection comes 16 MB above it, not above 10 MB
  f.m.live = 30 * MB
  f.m.held = 30 * MB
  t.ok(await until(() => f.m.collections === 2), 'grew by 20 MB since the last collection')
  const collections = f.m.collections
  f.m.held = 45 * MB // 15 MB above the 30 MB that stayed
  const looks = f.m.looks
  t.ok(await until(() => f.m.looks >= looks + 5))
  t.equal(f.m.collections, collections)
  end()
})

t.test('watches only while a transfer is in flight; ending twice ends once', async (t) => {
  const f = fakeMemory()
  const gc = new TransferGc({ intervalMs: 1, arrayBuffers: f.arrayBuffers, collect: f.collect })
  const a = gc.begin()
  const b = gc.begin()
  t.equal(gc.inFlight, 2)
  a()
  a()
  t.equal(gc.inFlight, 1, 'the second call of an end does nothing')
  t.ok(await until(() => f.m.looks >= 3), 'still watching for the other transfer')
  b()
  t.equal(gc.inFlight, 0)
  const looks = f.m.looks
  await sleep(20)
  t.equal(f.m.looks, looks, 'no look once nothing is in flight')
})

t.test('without a collection function nothing is counted or watched', async (t) => {
  const f = fakeMemory()
  const gc = new TransferGc({ intervalMs: 1, arrayBuffers: f.arrayBuffers, collect: undefined })
  t.equal(gc.enabled, false)
  const end = gc.begin()
  t.equal(gc.inFlight, 0)
  await sleep(10)
  t.equal(f.m.looks, 0)
  end()
})

t.test('the collection is the minor gc of --expose-gc, absent without the flag', async (t) => {
  const g = globalThis as { gc?: unknown }
  const saved = g.gc
  t.teardown(() => {
    g.gc = saved
  })
  g.gc = undefined
  t.equal(exposedMinorGc(), undefined)
  const calls: unknown[] = []
  g.gc = (options: unknown) => calls.push(options)
  const collect = exposedMinorGc()
  t.type(collect, 'function')
  collect?.()
  t.same(calls, [{ type: 'minor' }])
})
