// Redis store state: compare-and-set versions, racing writers, seeding, announcements, key namespaces, metrics.
import t from 'tap'
import { ProxyError } from '../../../../src/shared/errors.js'
import { credentialKeys, StateCipher, type Announcement } from '../../../../src/token/store/redis/index.js'
import { redisMissing, startRedis } from '../../../helpers/redis-server.js'
import { IDENTITY, openTestStore, secretToken, testKey } from '../../../helpers/redis-store.js'

const missing = redisMissing()

t.test('Redis store state', { skip: missing ?? false }, async (t) => {
  const redis = await startRedis(t)
  const connection = { url: redis.url }

  t.test('absent state reads as undefined and a first write needs expected version 0', async (t) => {
    const store = await openTestStore(t, connection, { keyPrefix: 't-absent' })
    const cred = store.credential(IDENTITY)
    t.equal(await cred.read(), undefined)
    t.same(await cred.write(1, { refreshToken: 'x' }), { ok: false, currentVersion: 0 }, 'absent is version 0')
    const rt = secretToken('rt')
    t.same(await cred.write(0, { refreshToken: rt, subject: 'alice' }), { ok: true, version: 1 })
    const read = await cred.read()
    t.equal(read?.version, 1)
    t.equal(read?.state.refreshToken, rt)
    t.equal(read?.state.subject, 'alice')
    t.same(read?.state.identity, IDENTITY)
    t.equal(read?.state.writtenBy, store.replicaId)
    t.type(read?.state.updatedAtMs, 'number')
  })

  t.test('a write with a stale version is refused and reports the current version', async (t) => {
    const store = await openTestStore(t, connection, { keyPrefix: 't-cas' })
    const cred = store.credential(IDENTITY)
    const rt1 = secretToken('rt1')
    const rt2 = secretToken('rt2')
    t.same(await cred.write(0, { refreshToken: rt1 }), { ok: true, version: 1 })
    t.same(await cred.write(1, { refreshToken: rt2 }), { ok: true, version: 2 })
    t.same(await cred.write(1, { refreshToken: 'stale' }), { ok: false, currentVersion: 2 })
    t.same(await cred.write(0, { refreshToken: 'stale' }), { ok: false, currentVersion: 2 })
    t.same(await cred.write(3, { refreshToken: 'ahead' }), { ok: false, currentVersion: 2 }, 'a future version too')
    t.equal((await cred.read())?.state.refreshToken, rt2, 'the refused writes changed nothing')
    t.equal(store.metrics.count('write', 'ok'), 2)
    t.equal(store.metrics.count('write', 'conflict'), 3)
    await t.rejects(cred.write(-1, {}), RangeError)
    await t.rejects(cred.write(1.5, {}), RangeError)
  })

  t.test('many clients racing on each version: exactly one wins per version', async (t) => {
    const stores = await Promise.all(
      Array.from({ length: 8 }, (_, i) => openTestStore(t, connection, { keyPrefix: 't-race', replicaId: `r${i}` })),
    )
    const creds = stores.map((s) => s.credential(IDENTITY))
    const rounds = 25
    const winners: string[] = []
    for (let version = 0; version < rounds; version++) {
      const results = await Promise.all(
        creds.map((c, i) => c.write(version, { refreshToken: `rt-${version}-${i}` }).then((r) => ({ r, i }))),
      )
      const won = results.filter((x) => x.r.ok)
      t.equal(won.length, 1, `one winner for version ${version + 1}`)
      for (const x of results.filter((x) => !x.r.ok)) t.same(x.r, { ok: false, currentVersion: version + 1 })
      winners.push(`rt-${version}-${won[0]?.i}`)
    }
    const final = await creds[0]?.read()
    t.equal(final?.version, rounds)
    t.equal(final?.state.refreshToken, winners.at(-1), 'the stored state is the last winner')
    const okTotal = stores.reduce((n, s) => n + s.metrics.count('write', 'ok'), 0)
    const conflictTotal = stores.reduce((n, s) => n + s.metrics.count('write', 'conflict'), 0)
    t.equal(okTotal, rounds)
    t.equal(conflictTotal, rounds * 7)
  })

  t.test('seed writes only over a lower version: the highest version wins', async (t) => {
    const store = await openTestStore(t, connection, { keyPrefix: 't-seed' })
    const cred = store.credential(IDENTITY)
    await t.rejects(cred.seed(0, {}), RangeError, 'version 0 means absent and cannot be seeded')
    t.same(await cred.seed(5, { refreshToken: 'v5' }), { ok: true, version: 5 }, 'into an empty Redis')
    t.same(await cred.seed(3, { refreshToken: 'v3' }), { ok: false, currentVersion: 5 }, 'an older one is refused')
    t.same(await cred.seed(5, { refreshToken: 'v5b' }), { ok: false, currentVersion: 5 }, 'an equal one is refused')
    t.same(await cred.seed(7, { refreshToken: 'v7' }), { ok: true, version: 7 })
    t.same(await cred.write(7, { refreshToken: 'v8' }), { ok: true, version: 8 }, 'writes continue from the seed')
    const read = await cred.read()
    t.equal(read?.version, 8)
    t.equal(read?.state.refreshToken, 'v8')
  })

  t.test('every successful write is announced to other connections, without secrets', async (t) => {
    const writer = await openTestStore(t, connection, { keyPrefix: 't-ann', replicaId: 'writer-1' })
    const listener = await openTestStore(t, connection, { keyPrefix: 't-ann', replicaId: 'listener-1' })
    const other = await openTestStore(t, connection, { keyPrefix: 't-ann-other', replicaId: 'listener-2' })
    const heard: Announcement[] = []
    const heardOther: Announcement[] = []
    const raw: string[] = []
    await listener.credential(IDENTITY).onAnnouncement((a) => heard.push(a))
    await other.credential(IDENTITY).onAnnouncement((a) => heardOther.push(a))
    const subscriber = await openTestStore(t, connection, { keyPrefix: 't-ann' })
    // the raw channel content, as any Redis client would see it
    const keys = credentialKeys(IDENTITY, 't-ann')
    await (
      subscriber as unknown as { link: { subscribe(c: string, l: (m: string) => void): Promise<void> } }
    ).link.subscribe(keys.channel, (m) => raw.push(m))
    const cred = writer.credential(IDENTITY)
    const rt = secretToken('rt')
    await cred.write(0, { refreshToken: rt, accessToken: secretToken('at') })
    await cred.write(0, { refreshToken: 'conflict' })
    await cred.write(1, { refreshToken: rt })
    await cred.seed(10, { refreshToken: rt })
    await waitUntil(() => heard.length >= 3)
    t.same(heard, [
      { version: 1, writer: 'writer-1', kind: 'write' },
      { version: 2, writer: 'writer-1', kind: 'write' },
      { version: 10, writer: 'writer-1', kind: 'seed' },
    ])
    t.equal(heardOther.length, 0, 'another prefix hears nothing')
    await waitUntil(() => raw.length >= 3)
    t.notOk(
      raw.some((m) => m.includes(rt) || m.includes('rt-')),
      'no token in an announcement',
    )
    t.equal(listener.metrics.snapshot().announcements.received, 3)
  })

  t.test('two identities and two prefixes never share keys', async (t) => {
    const a = await openTestStore(t, connection, { keyPrefix: 'proxy-a' })
    const b = await openTestStore(t, connection, { keyPrefix: 'proxy-b' })
    const variants = [
      IDENTITY,
      { ...IDENTITY, clientId: 'client-b' },
      { ...IDENTITY, credentialName: 'reports' },
      { ...IDENTITY, identityDomainUrl: 'https://idcs-other.identity.example.com' },
    ]
    const all = [a, b].flatMap((store) => variants.map((id) => ({ store, id, cred: store.credential(id) })))
    const stateKeys = new Set(all.map((x) => x.cred.keys.state))
    t.equal(stateKeys.size, all.length, 'distinct state keys')
    for (const { cred } of all) {
      t.match(cred.keys.state, /^proxy-[ab]:\{[0-9a-f]{32}\}:state$/, 'hash tag present')
      const tag = /\{[0-9a-f]{32}\}/.exec(cred.keys.state)?.[0]
      t.ok(
        cred.keys.lock.includes(tag as string) && cred.keys.channel.includes(tag as string),
        'one slot per credential',
      )
    }
    await Promise.all(all.map((x, i) => x.cred.write(0, { refreshToken: `rt-${i}` })))
    for (const [i, x] of all.entries()) t.equal((await x.cred.read())?.state.refreshToken, `rt-${i}`)
    t.equal(
      credentialKeys({ ...IDENTITY, identityDomainUrl: 'HTTPS://IDCS-test.identity.example.com/' }).state,
      credentialKeys(IDENTITY).state,
      'the same identity domain written differently is the same credential',
    )
  })

  t.test('a bad key prefix is refused before connecting', async (t) => {
    for (const keyPrefix of ['', 'has{brace}', 'has space', 'x'.repeat(101)])
      await t.rejects(
        openTestStore(t, connection, { keyPrefix }),
        { code: 'config_invalid' },
        JSON.stringify(keyPrefix),
      )
  })

  t.test('metrics count operations by result and latency', async (t) => {
    const store = await openTestStore(t, connection, { keyPrefix: 't-metrics' })
    const samples: string[] = []
    store.metrics.observe((s) => samples.push(`${s.operation}:${s.result}`))
    const cred = store.credential(IDENTITY)
    await cred.read()
    await cred.write(0, {})
    await cred.write(0, {})
    await cred.read()
    const snap = store.metrics.snapshot()
    t.same(snap.operations, { 'read:absent': 1, 'write:ok': 1, 'write:conflict': 1, 'read:ok': 1 })
    t.equal(snap.latency.read?.count, 2)
    t.equal(snap.latency.write?.count, 2)
    t.ok((snap.latency.write?.maxMs ?? -1) >= 0)
    t.same(samples, ['read:absent', 'write:ok', 'write:conflict', 'read:ok'])
  })

  t.test('state from a store without a key is refused by one with a key, and the opt-out reads it', async (t) => {
    const plain = await openTestStore(t, connection, { keyPrefix: 't-plain', cipher: StateCipher.unencrypted() })
    const keyed = await openTestStore(t, connection, { keyPrefix: 't-plain', cipher: new StateCipher(testKey()) })
    t.equal(plain.describe().encrypted, false)
    await plain.credential(IDENTITY).write(0, { refreshToken: 'readable' })
    t.equal((await plain.credential(IDENTITY).read())?.state.refreshToken, 'readable')
    const err = await keyed
      .credential(IDENTITY)
      .read()
      .catch((e: unknown) => e)
    t.ok(err instanceof ProxyError)
    t.equal((err as ProxyError).code, 'store_state_unreadable')
  })
})

async function waitUntil(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}
