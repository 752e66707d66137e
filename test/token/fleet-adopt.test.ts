// A token another replica stored is handed to the manager with the life it has left, to the millisecond.
import t from 'tap'
import { storedTokenSet } from '../../src/token/fleet-grant.js'
import { lifetimeOf } from '../../src/token/lifetime.js'
import type { SharedState } from '../../src/token/store/redis/index.js'

const NOW = 1_800_000_000_000

function stored(leftMs: number): SharedState {
  return {
    accessToken: 'opaque-access-token',
    accessTokenExpiresAtMs: NOW + leftMs,
    accessTokenObtainedAtMs: NOW - 500,
    identity: { identityDomainUrl: 'https://idcs.example.com', clientId: 'c', credentialName: 'default' },
    writtenBy: 'r1',
    updatedAtMs: NOW - 500,
  }
}

t.test('an adopted token keeps the milliseconds of its remaining life', async (t) => {
  for (const leftMs of [1_500, 999, 250, 61_400, 99_999]) {
    const set = storedTokenSet(stored(leftMs), NOW)
    t.equal(lifetimeOf(set, NOW), leftMs, `${leftMs} ms left: the manager counts ${leftMs} ms`)
  }
})

t.test('a token with less than a second left is not adopted as already expired', async (t) => {
  const set = storedTokenSet(stored(800), NOW)
  t.ok(set.expiresInS > 0, `expires_in ${set.expiresInS} s`)
})

t.test('an expired stored token has no life left (never negative)', async (t) => {
  t.equal(storedTokenSet(stored(-2_000), NOW).expiresInS, 0)
})
