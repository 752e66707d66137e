// Redis store connections: settings validation and redaction, ACL users, TLS with a CA file, outages and recovery.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ProxyError } from '../../../../src/shared/errors.js'
import { toStoreError } from '../../../../src/token/store/redis/link.js'
import { SocketClosedUnexpectedlyError } from '@redis/client'
import {
  redactRedisUrl,
  resolveConnection,
  RedisTokenStore,
  StateCipher,
  type Announcement,
  type LinkEvent,
} from '../../../../src/token/store/redis/index.js'
import { LogCapture, registerSecret } from '../../../helpers.js'
import { selfSigned } from '../../../oauth/grants/keys.js'
import { freePort, redisMissing, startRedis } from '../../../helpers/redis-server.js'
import { IDENTITY, openTestStore, secretToken, testKey } from '../../../helpers/redis-store.js'

const PASSWORD = 'pw-' + 'Zq8vK2mN4xR7tL1s'
/** The commands docs/redis-store.md lists for a narrow ACL user. */
const NARROW = '+ping +hmget +hget +hset +eval +evalsha +set +get +pexpire +del +publish +subscribe +unsubscribe'
registerSecret(PASSWORD)

function resolveError(config: Parameters<typeof resolveConnection>[0]): ProxyError | undefined {
  try {
    resolveConnection(config)
  } catch (err) {
    return err as ProxyError
  }
  return undefined
}

t.test('settings: every problem named at once, no password quoted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'oac-redis-conf-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'not-a-cert.pem'), 'hello')
  const err = resolveError({
    url: `http://user:${PASSWORD}@host:6379/zero`,
    connectTimeoutMs: -1,
    tls: { caFile: join(dir, 'not-a-cert.pem') },
  })
  t.equal(err?.code, 'config_invalid')
  t.match(err?.message, /store\.url: the scheme must be redis:\/\/ or rediss:\/\//)
  t.match(err?.message, /store\.url: the path must be a database number/)
  t.match(err?.message, /store\.connectTimeoutMs: must be a positive number/)
  t.match(err?.message, /store\.tls\.caFile: only used with TLS/)
  t.notOk(err?.message.includes(PASSWORD), 'the password is not in the message')

  t.match(resolveError({})?.message, /store\.url: missing/)
  t.match(resolveError({ url: 'redis://h', sentinel: { masterName: 'm', nodes: ['s:1'] } })?.message, /not both/)
  t.match(resolveError({ url: `redis://u:${PASSWORD}@[bad` })?.message, /store\.url: not a URL/)
  t.notOk(resolveError({ url: `redis://u:${PASSWORD}@[bad` })?.message.includes(PASSWORD))
  t.match(
    resolveError({ sentinel: { masterName: '', nodes: ['ok:26379', 'bad port:x'] } })?.message,
    /sentinel\.masterName: missing[\s\S]*sentinel\.nodes\[1\]: expected host:port/,
  )
  t.match(
    resolveError({ url: 'rediss://h:6380', tls: { caFile: join(dir, 'not-a-cert.pem') } })?.message,
    /store\.tls\.caFile: .*holds no PEM certificate/,
  )
  t.match(
    resolveError({ url: 'rediss://h', tls: { caFile: join(dir, 'missing.pem') } })?.message,
    /cannot read .*ENOENT/,
  )

  const ok = resolveConnection({ url: `rediss://proxy:${PASSWORD}@redis.example:6380/2` })
  t.equal(ok.kind, 'single')
  t.equal(ok.target, 'rediss://proxy:***@redis.example:6380/2', 'the target is redacted')
  t.same(ok.auth, { username: 'proxy', password: PASSWORD })
  t.equal(ok.database, 2)
  t.same(ok.tls, {})
  const sentinel = resolveConnection({
    sentinel: { masterName: 'mymaster', nodes: ['s1', 's2:26380'], password: PASSWORD },
  })
  t.equal(sentinel.target, 'sentinel mymaster@s1:26379,s2:26380')
  t.notOk(JSON.stringify(sentinel.target).includes(PASSWORD))
  t.equal(redactRedisUrl(`redis://:${PASSWORD}@h:1/0`), 'redis://:***@h:1/0')
  t.equal(redactRedisUrl(`redis://u:${encodeURIComponent('p@ss/w:rd')}@h`), 'redis://u:***@h')
  t.equal(redactRedisUrl(`not a url ${PASSWORD}`), '[unparsable URL]')
})

t.test('against a real redis-server', { skip: redisMissing() ?? false }, async (t) => {
  t.test('an ACL user logs in; a wrong password is refused with store_refused, never quoted', async (t) => {
    const redis = await startRedis(t, {
      users: [
        { name: 'admin', password: PASSWORD },
        { name: 'proxy', password: PASSWORD, rules: `~oac-token-proxy:* &oac-token-proxy:* -@all ${NARROW}` },
      ],
      noDefaultUser: true,
    })
    const url = `redis://proxy:${PASSWORD}@127.0.0.1:${redis.port}/0`
    const store = await openTestStore(t, { url })
    // every operation works with only the commands docs/redis-store.md lists
    const cred = store.credential(IDENTITY)
    const heard: Announcement[] = []
    await cred.onAnnouncement((a) => heard.push(a))
    t.same(await cred.write(0, { refreshToken: 'x' }), { ok: true, version: 1 })
    t.same(await cred.seed(5, { refreshToken: 'y' }), { ok: true, version: 5 })
    t.equal((await cred.read())?.version, 5)
    const lock = await cred.acquireLock({ waitMs: 0 })
    t.equal(await lock?.renew(), true)
    t.equal(await lock?.release(), true)
    await until(() => heard.length === 2)
    t.equal(redis.cli('SCRIPT', 'FLUSH'), 'OK')
    t.same(await cred.write(5, {}), { ok: true, version: 6 }, 'EVAL after the script cache was flushed')
    t.notOk(store.describe().target.includes(PASSWORD))

    const wrong = 'wrong-' + PASSWORD
    registerSecret(wrong)
    const err = (await openTestStore(t, { url: `redis://proxy:${wrong}@127.0.0.1:${redis.port}` }).catch(
      (e: unknown) => e,
    )) as ProxyError
    t.equal(err.code, 'store_refused')
    t.match(err.message, /authentication or permission refused/)
    t.notOk(JSON.stringify({ m: err.message, h: err.hint, c: String(err.cause) }).includes(wrong))

    const anonymous = (await openTestStore(t, { url: redis.url }).catch((e: unknown) => e)) as ProxyError
    t.equal(anonymous.code, 'store_refused', 'no user at all')

    const outside = await openTestStore(t, { url }, { keyPrefix: 'elsewhere' })
    await t.rejects(outside.credential(IDENTITY).read(), { code: 'store_refused' }, 'a prefix the ACL does not grant')
  })

  t.test('requirepass in the URL or as a separate password', async (t) => {
    const redis = await startRedis(t, { password: PASSWORD })
    const viaUrl = await openTestStore(t, { url: `redis://:${PASSWORD}@127.0.0.1:${redis.port}` })
    await viaUrl.credential(IDENTITY).write(0, {})
    const separate = await openTestStore(t, { url: redis.url, password: PASSWORD, database: 3 })
    t.equal(await separate.credential(IDENTITY).read(), undefined, 'database 3 is another keyspace')
  })

  t.test('rediss:// with tls.caFile connects; without the CA it is refused', async (t) => {
    const dir = t.testdir({})
    const cert = selfSigned(dir, '127.0.0.1')
    if (!cert) return t.comment('openssl not available')
    const redis = await startRedis(t, { tls: { certPath: cert.certPath, keyPath: cert.keyPath } })
    const store = await openTestStore(t, { url: redis.url, tls: { caFile: cert.certPath } })
    t.same(await store.credential(IDENTITY).write(0, { refreshToken: 'over-tls' }), { ok: true, version: 1 })
    t.equal((await store.credential(IDENTITY).read())?.state.refreshToken, 'over-tls')
    const untrusted = (await openTestStore(t, { url: redis.url }).catch((e: unknown) => e)) as ProxyError
    t.equal(untrusted.code, 'store_refused')
    t.match(untrusted.message, /TLS certificate not trusted/)
    const plain = (await openTestStore(t, { url: redis.url.replace('rediss:', 'redis:') }).catch(
      (e: unknown) => e,
    )) as ProxyError
    t.ok(plain instanceof ProxyError && plain.code.startsWith('store_'), `plain text to a TLS port: ${plain.code}`)
  })

  t.test('nothing listening: store_unavailable within the connect timeout', async (t) => {
    const port = await freePort()
    const started = Date.now()
    const err = (await RedisTokenStore.open({
      connection: { url: `redis://:${PASSWORD}@127.0.0.1:${port}`, connectTimeoutMs: 500 },
      cipher: new StateCipher(testKey()),
    }).catch((e: unknown) => e)) as ProxyError
    t.equal(err.code, 'store_unavailable')
    t.match(err.message, /ECONNREFUSED/)
    t.notOk(err.message.includes(PASSWORD))
    t.ok(Date.now() - started < 2_000, `gave up after ${Date.now() - started} ms`)
  })

  t.test('opened without waiting while Redis is down: fails fast, then works once Redis starts', async (t) => {
    const port = await freePort()
    const started = Date.now()
    const store = await openTestStore(
      t,
      { url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 300 },
      { waitForConnection: false, keyPrefix: 'o-lazy' },
    )
    t.ok(Date.now() - started < 500, 'returned at once')
    t.equal(store.connected, false)
    await t.rejects(store.credential(IDENTITY).read(), { code: 'store_unavailable' })
    await startRedis(t, { port })
    await until(() => store.connected, 20_000)
    t.same(await store.credential(IDENTITY).write(0, {}), { ok: true, version: 1 })
  })

  t.test('Redis not answering: calls time out as store_unavailable, and later answers stay in order', async (t) => {
    const redis = await startRedis(t)
    const store = await openTestStore(t, { url: redis.url, commandTimeoutMs: 300 }, { keyPrefix: 'o-pause' })
    const cred = store.credential(IDENTITY)
    t.same(await cred.write(0, { refreshToken: 'v1' }), { ok: true, version: 1 })
    // every client's commands wait for 1.5 s, as on an overloaded or frozen server
    t.equal(redis.cli('CLIENT', 'PAUSE', '1500', 'ALL'), 'OK')
    const started = Date.now()
    const err = (await cred.read().catch((e: unknown) => e)) as ProxyError
    const took = Date.now() - started
    t.equal(err.code, 'store_unavailable')
    t.match(err.message, /timed out/)
    t.ok(took < 1_000, `gave up after ${took} ms`)
    const write = (await cred.write(1, { refreshToken: 'v2' }).catch((e: unknown) => e)) as ProxyError
    t.equal(write.code, 'store_unavailable', 'a write times out too (it may still be applied later)')
    await new Promise((r) => setTimeout(r, 1_600))
    // the late replies to the timed-out calls must not be taken for the answers to new calls
    const after = await cred.read()
    t.equal(after?.version, 2, 'the timed-out write was applied once the server resumed')
    t.equal(after?.state.refreshToken, 'v2')
    t.same(await cred.write(1, {}), { ok: false, currentVersion: 2 }, 'a stale writer still conflicts')
    t.same(await cred.write(2, { refreshToken: 'v3' }), { ok: true, version: 3 })
  })

  t.test('Redis stopped: calls fail fast with store_unavailable; back: reconnect, resubscribe, resync', async (t) => {
    const redis = await startRedis(t, { password: PASSWORD })
    const logs = new LogCapture()
    const log = logs.logger('info')
    const events: LinkEvent[] = []
    const options = {
      onEvent: (e: LinkEvent) => {
        events.push(e)
        if (e.type === 'error') log.warn({ event: 'store.error', code: e.error.code, err: e.error }, e.error.message)
        else log.info({ event: 'store.ready', connection: e.connection, reconnect: e.reconnect }, 'store connected')
      },
    }
    const url = `redis://:${PASSWORD}@127.0.0.1:${redis.port}`
    const listener = await openTestStore(t, { url, commandTimeoutMs: 500 }, { ...options, keyPrefix: 'o-out' })
    const writer = await openTestStore(t, { url, commandTimeoutMs: 500 }, { keyPrefix: 'o-out' })
    const heard: Announcement[] = []
    let resyncs = 0
    const cred = listener.credential(IDENTITY)
    await cred.onAnnouncement((a) => heard.push(a))
    cred.onResync(() => resyncs++)
    const rt = secretToken('rt')
    await writer.credential(IDENTITY).write(0, { refreshToken: rt })
    await until(() => heard.length === 1)

    await redis.stop()
    await until(() => !listener.connected)
    for (const call of [() => cred.read(), () => cred.write(1, {}), () => cred.acquireLock({ waitMs: 5_000 })]) {
      const started = Date.now()
      const err = (await call().catch((e: unknown) => e)) as ProxyError
      t.equal(err.code, 'store_unavailable')
      t.match(
        err.message,
        /^Redis store \w+ failed at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: (ECONNREFUSED|not connected|connection closed)$/,
      )
      t.ok(Date.now() - started < 1_000, `failed after ${Date.now() - started} ms`)
    }
    t.ok(listener.metrics.count('read', 'error') >= 1)

    // back, empty (no persistence): the replicas reconnect by themselves and hear new writes
    await redis.start()
    await until(() => listener.connected && writer.connected && resyncs >= 1, 20_000)
    t.equal(await cred.read(), undefined, 'the restarted Redis is empty')
    t.same(await writer.credential(IDENTITY).seed(1, { refreshToken: rt }), { ok: true, version: 1 })
    await until(() => heard.length === 2, 15_000)
    t.same(heard[1], { version: 1, writer: writer.replicaId, kind: 'seed' }, 'resubscribed after the restart')
    t.ok(listener.metrics.snapshot().reconnects >= 1)
    t.ok(events.some((e) => e.type === 'error' && e.error.code === 'store_unavailable'))
    t.ok(logs.events('store.error').length >= 1, 'errors reached the log')
    t.notOk(logs.text().includes(PASSWORD), 'no password in the log')
    t.notOk(logs.text().includes(rt), 'no token in the log')
  })
})

/** Waits for a real-time event (reconnect, pub/sub); the bound is generous so a loaded machine does not fail it. */
async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

t.test('a connection that closes under a command reads "connection closed", with no error class name', async (t) => {
  const err = toStoreError(new SocketClosedUnexpectedlyError(), 'read', 'redis://127.0.0.1:6379')
  t.equal(err.code, 'store_unavailable')
  t.equal(err.message, 'Redis store read failed at redis://127.0.0.1:6379: connection closed')
})
