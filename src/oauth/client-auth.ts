// Client authentication at the token endpoint, chosen separately from the grant.
import type { Secret } from '../secret.js'

export type ClientAuth =
  | { method: 'client_secret_basic'; clientId: string; clientSecret: Secret }
  | { method: 'client_secret_post'; clientId: string; clientSecret: Secret }
  | { method: 'none'; clientId: string }

/** RFC 6749 2.3.1: id and secret are form-urlencoded before Basic encoding. */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+')
}

export function applyClientAuth(auth: ClientAuth, headers: Record<string, string>, params: URLSearchParams): void {
  switch (auth.method) {
    case 'client_secret_basic': {
      const raw = `${formEncode(auth.clientId)}:${formEncode(auth.clientSecret.reveal())}`
      headers.authorization = `Basic ${Buffer.from(raw).toString('base64')}`
      return
    }
    case 'client_secret_post':
      params.set('client_id', auth.clientId)
      params.set('client_secret', auth.clientSecret.reveal())
      return
    case 'none':
      params.set('client_id', auth.clientId)
      return
  }
}
