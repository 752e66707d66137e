// Client authentication at the token endpoint, chosen separately from the grant.
import type { Clock } from '../shared/clock.js'
import type { AssertionKey } from '../config/types.js'
import { registerSecretValue } from '../shared/redact.js'
import type { Secret } from '../shared/secret.js'
import { signAssertion } from './assertion.js'

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

export type ClientAuth =
  | { method: 'client_secret_basic'; clientId: string; clientSecret: Secret }
  | { method: 'client_secret_post'; clientId: string; clientSecret: Secret }
  | { method: 'private_key_jwt'; clientId: string; key: AssertionKey; clock?: Clock }
  | { method: 'none'; clientId: string }

/** RFC 6749 2.3.1: id and secret are form-urlencoded before Basic encoding. */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+')
}

export async function applyClientAuth(
  auth: ClientAuth,
  headers: Record<string, string>,
  params: URLSearchParams,
  /** private_key_jwt: the assertion's aud, when not the configured one. */
  audience?: string,
): Promise<void> {
  switch (auth.method) {
    case 'client_secret_basic': {
      const raw = `${formEncode(auth.clientId)}:${formEncode(auth.clientSecret.reveal())}`
      const basic = Buffer.from(raw).toString('base64')
      // the encoded pair reveals the secret as well: an IdP echoing the header gets it scrubbed too
      registerSecretValue(basic)
      headers.authorization = `Basic ${basic}`
      return
    }
    case 'client_secret_post':
      params.set('client_id', auth.clientId)
      params.set('client_secret', auth.clientSecret.reveal())
      return
    case 'private_key_jwt':
      params.set('client_id', auth.clientId)
      params.set('client_assertion_type', CLIENT_ASSERTION_TYPE)
      params.set(
        'client_assertion',
        await signAssertion(auth.key, { sub: auth.clientId, iss: auth.clientId }, auth.clock, audience),
      )
      return
    case 'none':
      params.set('client_id', auth.clientId)
      return
  }
}
