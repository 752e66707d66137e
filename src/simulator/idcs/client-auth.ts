// Client authentication at the IDCS token endpoint: HTTP Basic, form post, public client, or private_key_jwt.

import type { IncomingHttpHeaders } from 'node:http'
import type { AssertionResult } from './client-keys.js'
import { CLIENT_ASSERTION_TYPE } from '../constants.js'

export interface RegisteredClients {
  confidential: { clientId: string; clientSecret: string }
  publicClientId: string
}

/** Whether `clientId` is one of the registered clients (confidential or public). */
export function isRegisteredClient(clients: RegisteredClients, clientId: string): boolean {
  return clientId === clients.confidential.clientId || clientId === clients.publicClientId
}

export type ClientAuthResult =
  { kind: 'basic' | 'post' | 'none' | 'private_key_jwt'; clientId: string } | { kind: 'invalid'; reason?: string }

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

/** Verifies a client assertion (iss == sub == client id); `clientId` is the optional client_id parameter. */
export type ClientAssertionVerifier = (assertion: string, clientId: string | undefined) => Promise<AssertionResult>

/**
 * Client authentication for every IDCS endpoint that takes it: a client assertion
 * (private_key_jwt) when one is sent, otherwise Basic, form post or public client.
 */
export async function authenticateRequestClient(
  headers: IncomingHttpHeaders,
  form: URLSearchParams,
  clients: RegisteredClients,
  verifyAssertion: ClientAssertionVerifier,
): Promise<ClientAuthResult> {
  const assertionType = form.get('client_assertion_type')
  const assertion = form.get('client_assertion')
  if (assertionType === null && assertion === null) return authenticateClient(headers, form, clients)
  if (headers.authorization !== undefined || form.get('client_secret') !== null) return { kind: 'invalid' }
  if (assertionType !== CLIENT_ASSERTION_TYPE) return { kind: 'invalid', reason: 'unsupported client_assertion_type' }
  if (!assertion) return { kind: 'invalid', reason: 'client_assertion is required' }
  const bodyId = form.get('client_id') ?? undefined
  if (bodyId !== undefined && !isRegisteredClient(clients, bodyId)) return { kind: 'invalid' }
  const result = await verifyAssertion(assertion, bodyId)
  if (!result.ok) return { kind: 'invalid', reason: result.reason }
  if (!isRegisteredClient(clients, result.clientId)) return { kind: 'invalid' }
  return { kind: 'private_key_jwt', clientId: result.clientId }
}
