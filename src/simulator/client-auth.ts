// Client authentication at the IDCS token endpoint: HTTP Basic, form post, or public client.

import type { IncomingHttpHeaders } from 'node:http'

export interface RegisteredClients {
  confidential: { clientId: string; clientSecret: string }
  publicClientId: string
}

export type ClientAuthResult = { kind: 'basic' | 'post' | 'none'; clientId: string } | { kind: 'invalid' }

/** application/x-www-form-urlencoded decoding of one value (RFC 6749 section 2.3.1). */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '))
  } catch {
    return undefined
  }
}

function parseBasic(header: string): { id: string; secret: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header)
  if (!match?.[1]) return undefined
  const decoded = Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  const id = formDecode(decoded.slice(0, colon))
  const secret = formDecode(decoded.slice(colon + 1))
  if (id === undefined || secret === undefined) return undefined
  return { id, secret }
}

function secretMatches(clients: RegisteredClients, id: string, secret: string): boolean {
  const c = clients.confidential
  return id === c.clientId && secret.length > 0 && secret === c.clientSecret
}

export function authenticateClient(
  headers: IncomingHttpHeaders,
  form: URLSearchParams,
  clients: RegisteredClients,
): ClientAuthResult {
  const authorization = headers.authorization
  const bodyId = form.get('client_id')
  const bodySecret = form.get('client_secret')
  if (authorization !== undefined) {
    const basic = parseBasic(authorization)
    if (!basic || bodySecret !== null) return { kind: 'invalid' }
    if (bodyId !== null && bodyId !== basic.id) return { kind: 'invalid' }
    return secretMatches(clients, basic.id, basic.secret) ? { kind: 'basic', clientId: basic.id } : { kind: 'invalid' }
  }
  if (bodyId === null) return { kind: 'invalid' }
  if (bodySecret !== null) {
    return secretMatches(clients, bodyId, bodySecret) ? { kind: 'post', clientId: bodyId } : { kind: 'invalid' }
  }
  return bodyId === clients.publicClientId ? { kind: 'none', clientId: bodyId } : { kind: 'invalid' }
}
