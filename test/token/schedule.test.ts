// Timing rules of the token manager: when to refresh, when a token is usable, how long to back off.
import t from 'tap'
import { DEFAULT_TOKEN_SETTINGS } from '../helpers.js'
import {
  backoffMs,
  isUsable,
  notYetDue,
  refreshAtMono,
  remainingMs,
  safetyMarginMs,
  type AccessToken,
} from '../../src/token/schedule.js'

const SETTINGS = DEFAULT_TOKEN_SETTINGS

const WALL0 = Date.UTC(2026, 0, 1)
const MONO0 = 5000

/** A token obtained at WALL0 / MONO0 living `lifetimeS` seconds. */
function token(lifetimeS: number): AccessToken {
  const lifetimeMs = lifetimeS * 1000
  return {
    value: 'at',
    obtainedAtMs: WALL0,
    expiresAtMs: WALL0 + lifetimeMs,
    obtainedAtMono: MONO0,
    expiresAtMono: MONO0 + lifetimeMs,
    lifetimeMs,
    seq: 1,
  }
}

const low = (): number => 0
const high = (): number => 1

t.test('the defaults are those the design names', async (t) => {
  t.same([SETTINGS.refreshAheadRatio, SETTINGS.refreshJitterRatio, SETTINGS.minLeadMs], [0.5, 0.1, 30_000])
})

t.test('a 100 s token without jitter is refreshed after 50 s', async (t) => {
  t.equal(refreshAtMono(token(100), SETTINGS, low) - MONO0, 50_000)
})

t.test('a 100 s token with the most jitter is refreshed after 40 s', async (t) => {
  t.equal(refreshAtMono(token(100), SETTINGS, high) - MONO0, 40_000)
})

t.test('jitter keeps a 100 s token between 40 s and 50 s', async (t) => {
  for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.999]) {
    const after = refreshAtMono(token(100), SETTINGS, () => r) - MONO0
    t.ok(after >= 40_000 && after <= 50_000, `random ${r}: ${after}`)
  }
})

t.test('minLead brings a late refresh forward', async (t) => {
  const late = { ...SETTINGS, refreshAheadRatio: 0.9 }
  t.equal(refreshAtMono(token(100), late, low) - MONO0, 70_000, '30 s before expiry, not at 90 s')
})

t.test('a 2 s token caps the lead at the ratio and is refreshed after 1 s', async (t) => {
  t.equal(refreshAtMono(token(2), SETTINGS, low) - MONO0, 1000)
})

t.test('a 2 s token with the most jitter is refreshed after 0.8 s', async (t) => {
  t.equal(refreshAtMono(token(2), SETTINGS, high) - MONO0, 800)
})

t.test('an IDCS default 3600 s token is refreshed after 1800 s', async (t) => {
  t.equal(refreshAtMono(token(3600), SETTINGS, low) - MONO0, 1_800_000)
})

t.test('the safety margin is expirySafety, at most a tenth of the lifetime', async (t) => {
  t.equal(safetyMarginMs(token(100), SETTINGS), 5000)
  t.equal(safetyMarginMs(token(2), SETTINGS), 200)
  t.equal(safetyMarginMs(token(50), SETTINGS), 5000)
})

t.test('a 100 s token is usable until 5 s before expiry, exclusive', async (t) => {
  const tk = token(100)
  t.ok(isUsable(tk, WALL0, MONO0, SETTINGS), 'fresh')
  t.ok(isUsable(tk, WALL0 + 94_999, MONO0 + 94_999, SETTINGS), '5.001 s left')
  t.notOk(isUsable(tk, WALL0 + 95_000, MONO0 + 95_000, SETTINGS), '5 s left')
  t.notOk(isUsable(tk, WALL0 + 100_000, MONO0 + 100_000, SETTINGS), 'expired')
  t.notOk(isUsable(tk, WALL0 + 200_000, MONO0 + 200_000, SETTINGS), 'long expired')
})

t.test('a 2 s token is usable until 0.2 s before expiry, exclusive', async (t) => {
  const tk = token(2)
  t.ok(isUsable(tk, WALL0 + 1799, MONO0 + 1799, SETTINGS))
  t.notOk(isUsable(tk, WALL0 + 1800, MONO0 + 1800, SETTINGS))
})

t.test('a wall clock that jumped forward makes a token unusable', async (t) => {
  const tk = token(100)
  t.equal(remainingMs(tk, WALL0 + 600_000, MONO0 + 1000), -500_000)
  t.notOk(isUsable(tk, WALL0 + 600_000, MONO0 + 1000, SETTINGS))
})

t.test('a wall clock that jumped back cannot make a token look younger', async (t) => {
  const tk = token(100)
  t.equal(remainingMs(tk, WALL0 - 600_000, MONO0 + 96_000), 4000)
  t.notOk(isUsable(tk, WALL0 - 600_000, MONO0 + 96_000, SETTINGS))
})

t.test('backoff doubles with each failure', async (t) => {
  t.same(
    [1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, SETTINGS, high)),
    [1000, 2000, 4000, 8000, 16_000, 32_000],
  )
})

t.test('backoff caps at backoffMax', async (t) => {
  t.same(
    [7, 8, 20, 1000].map((n) => backoffMs(n, SETTINGS, high)),
    [60_000, 60_000, 60_000, 60_000],
  )
})

t.test('backoff before any failure is the initial step', async (t) => {
  t.equal(backoffMs(0, SETTINGS, high), 1000)
})

t.test('backoff jitter stays within half and all of the step', async (t) => {
  for (const failures of [1, 3, 10]) {
    const step = Math.min(SETTINGS.backoffMaxMs, SETTINGS.backoffInitialMs * 2 ** (failures - 1))
    t.equal(backoffMs(failures, SETTINGS, low), step / 2, `failures ${failures}: lowest`)
    for (const r of [0.1, 0.5, 0.9, 0.999]) {
      const ms = backoffMs(failures, SETTINGS, () => r)
      t.ok(ms >= step / 2 && ms <= step, `failures ${failures}, random ${r}: ${ms} in [${step / 2}, ${step}]`)
    }
  }
})

t.test('backoff honours a longer Retry-After, even beyond the cap', async (t) => {
  t.equal(backoffMs(1, SETTINGS, high, 30), 30_000)
  t.equal(backoffMs(10, SETTINGS, high, 120), 120_000)
})

t.test('a shorter Retry-After does not shorten the backoff', async (t) => {
  t.equal(backoffMs(3, SETTINGS, high, 1), 4000)
})

t.test('notYetDue: a 100 s token is adopted by other replicas for its first 40 s, then refreshed', async (t) => {
  const s = DEFAULT_TOKEN_SETTINGS
  t.ok(notYetDue(100_000, 0, 0, s), 'just obtained')
  t.ok(notYetDue(100_000, 0, 39_999, s), 'before the earliest refresh point')
  t.notOk(notYetDue(100_000, 0, 40_000, s), 'at the earliest refresh point (50% less 10% jitter)')
  t.notOk(notYetDue(100_000, 0, 99_000, s))
  t.ok(notYetDue(100_000, undefined, 69_000, s), 'obtained time unknown: more than minLead (30 s) left')
  t.notOk(notYetDue(100_000, undefined, 70_000, s), 'obtained time unknown: minLead left')
  t.ok(notYetDue(2_000, 0, 799, s), 'a 2 s token: before 0.8 s')
  t.notOk(notYetDue(2_000, 0, 800, s))
})
