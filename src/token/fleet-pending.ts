// Writes outside the lock's refresh: unconfirmed ones kept until the store holds them, logins, refreshes while Redis is down.
import { ProxyError } from '../shared/errors.js'
import { pickHeld, type FleetDeps, type FleetResult } from './fleet-types.js'
import type { CredentialStore, StateInput, VersionedState } from './store/redis/store.js'

/**
 * A rotation is written over the version it was based on; a login (or an import) replaces the grant, so it goes over
 * whatever is stored. `retired` is the refresh token the rotation used, dead at the identity domain from then on.
 */
export interface PendingWrite {
  kind: 'rotation' | 'login'
  expected: number
  input: StateInput
  retired?: string
}

/**
 * Whether a newer stored version still carries the refresh token a rotation retired (a writer that did not know of the
 * rotation, e.g. an import racing it): that version must get the rotated refresh token, or the chain is lost.
 */
export function carriesRetired(seen: VersionedState, pending: PendingWrite): boolean {
  return (
    pending.retired !== undefined &&
    pending.input.refreshToken !== undefined &&
    seen.state.refreshToken === pending.retired
  )
}

/** Writes `pending` once; true when the store now holds it (or a newer state that includes it). */
export async function settlePending(store: CredentialStore, pending: PendingWrite): Promise<boolean> {
  const seen = await store.read()
  if (!seen) return (await store.seed(pending.expected + 1, pending.input)).ok
  if (pending.kind === 'login') return (await store.write(seen.version, pending.input)).ok
  if (seen.version === pending.expected) return (await store.write(pending.expected, pending.input)).ok
  // Redis came back older (a lost write, a restore): put the rotation back; a seed writes only over a lower version
  if (seen.version < pending.expected) return (await store.seed(pending.expected + 1, pending.input)).ok
  if (!carriesRetired(seen, pending)) return true
  const merged = { ...pickHeld(seen.state), refreshToken: pending.input.refreshToken as string }
  return (await store.write(seen.version, merged)).ok
}

/** Writes a login or an import on top of whatever is stored (a login replaces the grant); resolves its version. */
export async function storeAsNextVersion(store: CredentialStore, input: StateInput): Promise<number> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const seen = await store.read()
    const result = await store.write(seen?.version ?? 0, input)
    if (result.ok) return result.version
  }
  throw new ProxyError('store_busy', 'the shared store kept changing while the login was being stored', {
    hint: 'run the login again',
  })
}

/** The store is unreachable and the grant rotates nothing: a refresh for this replica alone. */
export async function refreshAlone(
  deps: FleetDeps,
  version: number,
  storeError: ProxyError,
  signal: AbortSignal | undefined,
): Promise<FleetResult> {
  deps.log.warn(
    { event: 'store.refresh_alone', err: storeError },
    'the shared store is unreachable; refreshing for this replica alone (this grant rotates nothing)',
  )
  const sentAtMs = deps.clock.now()
  const set = await deps.grant.run({ refreshToken: undefined, ...(signal ? { signal } : {}) })
  const lifetimeMs = deps.lifetimeOf(set, sentAtMs)
  return { kind: 'obtained', version, set, sentAtMs, lifetimeMs, stored: false }
}

const RESEEDS = {
  empty: ['store.seeded', 'the shared store had no state for this credential'],
  older: ['store.reseeded', 'the shared store came back older than the state this replica holds'],
} as const

/** Seeds the store with the state a replica holds (a seed writes only over a lower version); the store's answer after. */
export async function reseed(
  deps: FleetDeps,
  version: number,
  held: StateInput,
  why: keyof typeof RESEEDS,
): Promise<VersionedState | undefined> {
  const [event, what] = RESEEDS[why]
  const seeded = await deps.store.seed(version, held)
  deps.log.warn(
    { event, version, result: seeded.ok ? 'ok' : 'newer_present' },
    `${what}; it was seeded from this replica`,
  )
  return deps.store.read()
}
