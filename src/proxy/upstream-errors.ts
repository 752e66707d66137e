// Maps upstream connection failures onto 502/504 with stable codes, in one place.
import { ProxyError } from '../shared/errors.js'

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'FST_REPLY_FROM_GATEWAY_TIMEOUT',
  'ETIMEDOUT',
])

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'FST_REPLY_FROM_SERVICE_UNAVAILABLE',
  'FST_REPLY_FROM_CONNECTION_RESET_ERROR',
  'FST_REPLY_FROM_UNDICI_SOCKET_ERROR',
])

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/** The innermost recognisable code along the cause chain. */
function codes(err: unknown): string[] {
  const out: string[] = []
  let e: unknown = err
  for (let i = 0; i < 5 && e; i++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') out.push(code)
    e = (e as { cause?: unknown }).cause
  }
  return out
}

export function mapUpstreamError(err: unknown, upstreamHost: string): ProxyError {
  const all = codes(err)
  const timeout = all.find((c) => TIMEOUT_CODES.has(c))
  if (timeout) {
    return new ProxyError('upstream_timeout', `upstream ${upstreamHost} did not answer in time (${timeout})`, {
      cause: err,
      hint: 'Retry later; raise proxy.upstreamTimeoutSeconds for slow exports.',
    })
  }
  const tls = all.find((c) => TLS_CODES.has(c))
  if (tls) {
    return new ProxyError(
      'upstream_tls_error',
      `the TLS certificate of upstream ${upstreamHost} was not accepted (${tls})`,
      {
        cause: err,
        hint: 'If a corporate proxy or private CA signs it, add that CA with tls.caFile; certificates are always verified.',
      },
    )
  }
  const unreachable = all.find((c) => UNREACHABLE_CODES.has(c))
  if (unreachable) {
    return new ProxyError('upstream_unreachable', `upstream ${upstreamHost} could not be reached (${unreachable})`, {
      cause: err,
      hint: 'Check oacUrl, DNS, the network and any HTTPS_PROXY setting.',
    })
  }
  return new ProxyError('upstream_error', `request to upstream ${upstreamHost} failed (${all[0] ?? 'error'})`, {
    cause: err,
  })
}
