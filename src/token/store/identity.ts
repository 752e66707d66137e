// Credential identities: which identity domain and client a saved entry belongs to, checked and stamped on save.
import { ProxyError } from '../../shared/errors.js'
import type { CredentialIdentity, CredentialState } from './types.js'

/** The identity of a configured credential, with the URL normalised so that a trailing slash is no mismatch. */
export function identityOf(credential: string, idcsUrl: string, clientId: string): CredentialIdentity {
  let url = idcsUrl
  try {
    const u = new URL(idcsUrl)
    url = `${u.origin}${u.pathname}`
  } catch {
    // the config loader validated it; keep it as given
  }
  return { credential, idcsUrl: url.replace(/\/+$/, ''), clientId }
}

/** Throws state_mismatch when `saved` belongs to another identity domain or client than `wanted`. */
export function checkIdentity(saved: CredentialState | undefined, wanted: CredentialIdentity, path: string): void {
  const had = saved?.identity
  if (!had || (had.idcsUrl === wanted.idcsUrl && had.clientId === wanted.clientId)) return
  throw new ProxyError(
    'state_mismatch',
    `state file ${path} holds credential '${wanted.credential}' for identity domain ${had.idcsUrl} and client ${had.clientId}, ` +
      `but the configuration names identity domain ${wanted.idcsUrl} and client ${wanted.clientId}`,
    {
      hint:
        'Its refresh token is only valid where it was issued, and it is left untouched. Give this configuration its own ' +
        'stateFile (or credential name), or point it back at the identity domain and client the state file was written for.',
    },
  )
}

/** Claimed identities, per credential, and their stamping onto saved entries. */
export class Claims {
  readonly #byCredential = new Map<string, CredentialIdentity>()
  claim(identity: CredentialIdentity, saved: CredentialState | undefined, path: string): void {
    checkIdentity(saved, identity, path)
    this.#byCredential.set(identity.credential, { ...identity })
  }
  stamp(credential: string, state: CredentialState, previous: CredentialState | undefined): CredentialState {
    const identity = this.#byCredential.get(credential) ?? state.identity ?? previous?.identity
    return identity ? { ...state, identity: { ...identity } } : { ...state }
  }
}
