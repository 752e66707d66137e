// Redis store encryption: AES-256-GCM round trip, tamper and cross-credential refusal, key rotation, key parsing.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { ProxyError } from '../../../../src/shared/errors.js'
import { parseEncryptionKey, StateCipher, credentialKeys } from '../../../../src/token/store/redis/index.js'
import { redisMissing, startRedis } from '../../../helpers/redis-server.js'
import { IDENTITY, openTestStore, secretToken, testKey } from '../../../helpers/redis-store.js'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return err instanceof ProxyError ? err.code : 'not a ProxyError'
  }
  return undefined
}

t.test('keys are 32 bytes of base64, as openssl rand -base64 32 prints', async (t) => {
  const bytes = randomBytes(32)
  const printed = bytes.toString('base64') + '\n'
  const key = parseEncryptionKey(printed)
  t.same(key.bytes, bytes, 'standard base64 with padding and a trailing newline')
  t.same(parseEncryptionKey(bytes.toString('base64url')).bytes, bytes, 'base64url too')
  t.match(key.id, /^[A-Za-z0-9_-]{8}$/)
  t.equal(parseEncryptionKey(printed).id, key.id, 'the id is stable')
  t.not(parseEncryptionKey(randomBytes(32).toString('base64')).id, key.id)
  const wrong = [
    ['too short', randomBytes(16).toString('base64'), /decodes to 16 bytes.*exactly 32.*openssl rand -base64 32/],
    ['too long', randomBytes(48).toString('base64'), /decodes to 48 bytes/],
    ['hex', randomBytes(32).toString('hex'), /decodes to 48 bytes/],
    ['not base64', 'this is not a key!', /not base64.*openssl rand -base64 32/],
    ['empty', '', /not base64/],
  ] as const
  for (const [what, text, message] of wrong) {
    const err = (() => {
      try {
        parseEncryptionKey(text, 'store.encryptionKey')
      } catch (e) {
        return e as ProxyError
      }
      return undefined
    })()
    t.equal(err?.code, 'config_invalid', what)
    t.match(err?.message, /^store\.encryptionKey: /, `${what}: names the setting`)
    t.match(err?.message, message, what)
    if (text.length > 4) t.notOk(err?.message.includes(text), `${what}: the value is not quoted`)
  }
})

t.test('sealing: round trip, tampering, associated data, rotation', async (t) => {
  const k1 = testKey()
  const k2 = testKey()
  const secret = secretToken('rt')
  const cipher = new StateCipher(k1)
  const sealed = cipher.seal(secret, 'aad-1')
  t.notOk(sealed.includes(secret), 'the plaintext is not in the sealed value')
  t.ok(sealed.startsWith(`a256gcm.${k1.id}.`), 'names the algorithm and key id')
  t.equal(cipher.open(sealed, 'aad-1'), secret)
  t.not(cipher.seal(secret, 'aad-1'), sealed, 'a fresh IV every time')

  t.equal(
    codeOf(() => cipher.open(sealed, 'aad-2')),
    'store_state_unreadable',
    'other associated data is refused',
  )
  const parts = sealed.split('.')
  const ct = Buffer.from(parts[3] as string, 'base64url')
  ct[0] = (ct[0] as number) ^ 1
  const flipped = [...parts.slice(0, 3), ct.toString('base64url'), parts[4]].join('.')
  t.equal(
    codeOf(() => cipher.open(flipped, 'aad-1')),
    'store_state_unreadable',
    'a flipped bit is refused',
  )
  t.equal(
    codeOf(() => cipher.open('garbage', 'aad-1')),
    'store_state_unreadable',
    'an unknown format',
  )

  // rotation: the new key encrypts, the old one still opens what it sealed
  const rotated = new StateCipher(k2, [k1])
  t.equal(rotated.open(sealed, 'aad-1'), secret, 'an old value opens with the previous key')
  t.ok(rotated.seal(secret, 'aad-1').startsWith(`a256gcm.${k2.id}.`), 'new values use the current key')
  const onlyNew = new StateCipher(k2)
  let err: ProxyError | undefined
  try {
    onlyNew.open(sealed, 'aad-1')
  } catch (e) {
    err = e as ProxyError
  }
  t.equal(err?.code, 'store_state_unreadable')
  t.match(err?.message, new RegExp(`key ${k1.id}, which is not configured .current key is ${k2.id}`))

  const plain = StateCipher.unencrypted()
  t.equal(plain.encrypts, false)
  t.equal(plain.open(plain.seal('x', 'a'), 'a'), 'x')
  t.equal(
    codeOf(() => cipher.open(plain.seal('x', 'a'), 'a')),
    'store_state_unreadable',
    'keyed refuses plain',
  )
})

t.test('encrypted state in a real Redis', { skip: redisMissing() ?? false }, async (t) => {
  const redis = await startRedis(t)
  const connection = { url: redis.url }
  const k1 = testKey()
  const k2 = testKey()

  t.test('Redis holds only ciphertext; a reader with the key gets the tokens back', async (t) => {
    const store = await openTestStore(t, connection, { keyPrefix: 'c-rt', cipher: new StateCipher(k1) })
    const rt = secretToken('rt')
    const at = secretToken('at')
    await store.credential(IDENTITY).write(0, { refreshToken: rt, accessToken: at, accessTokenExpiresAtMs: 123 })
    const dump = redis.cli('HGETALL', credentialKeys(IDENTITY, 'c-rt').state)
    t.notOk(dump.includes(rt) || dump.includes(at), 'no token readable in Redis')
    t.match(dump, /a256gcm\./)
    const read = await store.credential(IDENTITY).read()
    t.equal(read?.state.refreshToken, rt)
    t.equal(read?.state.accessToken, at)
    t.equal(read?.state.accessTokenExpiresAtMs, 123)
  })

  t.test('a tampered value, or another credential copied over, is refused', async (t) => {
    const store = await openTestStore(t, connection, { keyPrefix: 'c-tamper', cipher: new StateCipher(k1) })
    const mine = store.credential(IDENTITY)
    const theirs = store.credential({ ...IDENTITY, clientId: 'someone-else' })
    await mine.write(0, { refreshToken: 'mine' })
    await theirs.write(0, { refreshToken: 'theirs' })
    // an attacker (or a bug) copies the other credential's sealed state over this one's
    const theirsSealed = redis.cli('HGET', theirs.keys.state, 'd')
    redis.cli('HSET', mine.keys.state, 'd', theirsSealed)
    await t.rejects(mine.read(), { code: 'store_state_unreadable' }, "another credential's ciphertext")
    // or rolls it back to an older version's value under the current version number
    await theirs.write(1, { refreshToken: 'theirs-2' })
    redis.cli('HSET', theirs.keys.state, 'd', theirsSealed)
    await t.rejects(theirs.read(), { code: 'store_state_unreadable' }, 'an older version replayed')
    // or flips a byte
    await mine.write(1, { refreshToken: 'mine-2' })
    const parts = redis.cli('HGET', mine.keys.state, 'd').split('.')
    const tag = Buffer.from(parts[4] as string, 'base64url')
    tag[3] = (tag[3] as number) ^ 0x10
    redis.cli('HSET', mine.keys.state, 'd', [...parts.slice(0, 4), tag.toString('base64url')].join('.'))
    await t.rejects(mine.read(), { code: 'store_state_unreadable' }, 'a changed tag')
    t.equal(store.metrics.count('read', 'error'), 3)
  })

  t.test(
    'rotation: a replica with the new key reads what the old key wrote, and writes with the new one',
    async (t) => {
      const old = await openTestStore(t, connection, { keyPrefix: 'c-rot', cipher: new StateCipher(k1) })
      const rolled = await openTestStore(t, connection, { keyPrefix: 'c-rot', cipher: new StateCipher(k2, [k1]) })
      await old.credential(IDENTITY).write(0, { refreshToken: 'by-old' })
      t.equal((await rolled.credential(IDENTITY).read())?.state.refreshToken, 'by-old')
      await rolled.credential(IDENTITY).write(1, { refreshToken: 'by-new' })
      t.match(redis.cli('HGET', rolled.credential(IDENTITY).keys.state, 'd'), new RegExp(`^a256gcm\\.${k2.id}\\.`))
      await t.rejects(
        old.credential(IDENTITY).read(),
        { code: 'store_state_unreadable' },
        'the old-only replica cannot',
      )
      t.same(rolled.describe().keyId, k2.id)
    },
  )

  t.test('a wrong key is refused with a message naming the key ids, not the keys', async (t) => {
    const writer = await openTestStore(t, connection, { keyPrefix: 'c-wrong', cipher: new StateCipher(k1) })
    const reader = await openTestStore(t, connection, { keyPrefix: 'c-wrong', cipher: new StateCipher(k2) })
    await writer.credential(IDENTITY).write(0, { refreshToken: secretToken('rt') })
    const err = (await reader
      .credential(IDENTITY)
      .read()
      .catch((e: unknown) => e)) as ProxyError
    t.equal(err.code, 'store_state_unreadable')
    t.match(err.message, k1.id)
    t.notOk(err.message.includes(k1.bytes.toString('base64')) || err.message.includes(k2.bytes.toString('base64')))
  })
})
