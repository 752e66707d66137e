// Counters the proxy keeps and the admin endpoints report (/-/status).
import type { ErrorCode } from '../shared/errors.js'

/** Counters kept by the proxy for status and metrics. */
export interface ProxyCounters {
  requests: number
  replays: number
  upstreamErrors: number
  tokenErrors: number
  /** Requests whose caller went away before the answer (aborted uploads...). */
  clientAborts: number
  /** Requests answered 503 upstream_busy: no upstream slot came free in time. */
  upstreamBusy: number
  /** Requests refused by the access guards, by error code. */
  refused: Partial<Record<ErrorCode, number>>
}

/** All counters at zero. */
export function newCounters(): ProxyCounters {
  return {
    requests: 0,
    replays: 0,
    upstreamErrors: 0,
    tokenErrors: 0,
    clientAborts: 0,
    upstreamBusy: 0,
    refused: {},
  }
}
