// Key naming: a prefix plus a hash of the credential identity inside a {hash tag}, so one credential's keys share a Cluster slot.
import { createHash } from 'node:crypto'
import { ProxyError } from '../../../shared/errors.js'

export const DEFAULT_KEY_PREFIX = 'oac-token-proxy'
const PREFIX_PATTERN = /^[A-Za-z0-9._:/-]{1,100}$/

/** Whose state it is: unrelated credentials (or proxies) never share keys unless all three match. */
export interface CredentialIdentity {
  /** The identity domain's base URL, e.g. https://idcs-abc.identity.oraclecloud.com */
  identityDomainUrl: string
  clientId: string
  /** The credential's name in the configuration (`default` when there is one). */
  credentialName: string
}

export interface CredentialKeys {
  /** Hash: version, encrypted state, writer, updatedAt. */
  state: string
  /** String: the refresh lock's owner id, with a TTL. */
  lock: string
  /** String: the device login one replica runs for the fleet (code and URI, never a token), with a TTL. */
  login: string
  /** Pub/sub channel of the write announcements (channels are not keys, but share the naming). */
  channel: string
  /** The hex hash inside the braces, for status output. */
  tag: string
}

/** The identity's canonical form: the URL without a trailing slash and with a lower-case scheme and host. */
export function canonicalIdentity(identity: CredentialIdentity): string {
  let url = identity.identityDomainUrl
  try {
    const u = new URL(url)
    url = `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`
  } catch {
    // kept verbatim: a config loader refuses such a URL long before this
  }
  return JSON.stringify(['oac-token-proxy/credential/v1', url, identity.clientId, identity.credentialName])
}

export function validatePrefix(prefix: string, key = 'store.keyPrefix'): string {
  if (!PREFIX_PATTERN.test(prefix))
    throw new ProxyError(
      'config_invalid',
      `${key}: use 1 to 100 letters, digits and . _ : / - (braces would break the key's hash tag)`,
    )
  return prefix
}

export function credentialKeys(identity: CredentialIdentity, prefix: string = DEFAULT_KEY_PREFIX): CredentialKeys {
  validatePrefix(prefix)
  const tag = createHash('sha256').update(canonicalIdentity(identity)).digest('hex').slice(0, 32)
  const base = `${prefix}:{${tag}}`
  return { state: `${base}:state`, lock: `${base}:lock`, login: `${base}:login`, channel: `${base}:events`, tag }
}
