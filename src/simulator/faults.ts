// Fault injection: per-server FIFO and always-on fault queues, and how each fault is answered.

import { realDelay } from './state.js'
import { sendBody, sendJson } from './http-util.js'
import type { RequestContext } from './http-util.js'
import type { Fault, FaultQueue } from './types.js'

type ServerKind = 'idcs' | 'oac'

interface QueuedFault {
  fault: Fault
  remaining: number
}

function validate(server: ServerKind, fault: Fault): void {
  if (fault.kind === 'invalid_grant' && server !== 'idcs') {
    throw new TypeError('the invalid_grant fault applies to the IDCS queue only')
  }
  if (fault.kind === 'latency' && !(fault.ms >= 0)) throw new RangeError('latency ms must be >= 0')
  if (fault.kind === 'status' && !(fault.status >= 100 && fault.status <= 599)) {
    throw new RangeError('status must be an HTTP status code')
  }
}

export class SimFaultQueue implements FaultQueue {
  readonly #server: ServerKind
  #queue: QueuedFault[] = []
  #always: Fault | null = null

  constructor(server: ServerKind) {
    this.#server = server
  }

  next(fault: Fault, times = 1): void {
    validate(this.#server, fault)
    if (!Number.isInteger(times) || times < 1) throw new RangeError('times must be an integer >= 1')
    this.#queue.push({ fault, remaining: times })
  }

  always(fault: Fault | null): void {
    if (fault) validate(this.#server, fault)
    this.#always = fault
  }

  clear(): void {
    this.#queue = []
    this.#always = null
  }

  /**
   * The fault for the request now arriving: queued ones first, then the always-on one.
   * An invalid_grant fault waits for the next token call (other requests pass it by).
   */
  take(isTokenCall: boolean): Fault | null {
    const head = this.#queue[0]
    if (head && (isTokenCall || head.fault.kind !== 'invalid_grant')) {
      head.remaining--
      if (head.remaining === 0) this.#queue.shift()
      return head.fault
    }
    const always = this.#always
    if (always && (isTokenCall || always.kind !== 'invalid_grant')) return always
    return null
  }
}

/** What the request handler does after a fault: stop, or go on (optionally forcing invalid_grant). */
export type FaultOutcome = 'handled' | 'continue' | 'invalid_grant'

const MALFORMED_BODY: Record<ServerKind, string> = {
  idcs: '{"access_token":"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIi',
  oac: '{"items":[{"id":"snap',
}

function defaultStatusBody(server: ServerKind, status: number): string {
  if (server === 'idcs') {
    const error = status === 503 ? 'temporarily_unavailable' : 'server_error'
    return JSON.stringify({ error, error_description: `Simulated HTTP ${status}.` })
  }
  return JSON.stringify({ code: 'ServiceError', message: `Simulated HTTP ${status}.` })
}

function rateLimitBody(server: ServerKind, retryAfterS: number): unknown {
  const detail = `Too many requests. Retry after ${retryAfterS} seconds.`
  if (server === 'idcs') {
    return {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '429',
      detail,
      error: 'too_many_requests',
      error_description: detail,
    }
  }
  return { code: 'TooManyRequests', message: detail }
}

/** Apply `fault` to the request in `ctx` (the call is already recorded). */
export async function applyFault(ctx: RequestContext, server: ServerKind, fault: Fault): Promise<FaultOutcome> {
  ctx.call.fault = fault.kind
  switch (fault.kind) {
    case 'latency':
      return (await realDelay(ctx.state, fault.ms)) ? 'continue' : 'handled'
    case 'status': {
      const body = fault.body ?? defaultStatusBody(server, fault.status)
      const type = body.trimStart().startsWith('{') ? 'application/json' : 'text/plain'
      ctx.req.resume()
      sendBody(ctx, fault.status, body, type + ';charset=UTF-8')
      return 'handled'
    }
    case 'rate_limit':
      ctx.req.resume()
      sendJson(ctx, 429, rateLimitBody(server, fault.retryAfterS), {
        'retry-after': String(fault.retryAfterS),
      })
      return 'handled'
    case 'reset': {
      const socket = ctx.req.socket
      if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy()
      else socket.destroy()
      return 'handled'
    }
    case 'malformed':
      ctx.req.resume()
      sendBody(ctx, 200, MALFORMED_BODY[server], 'application/json;charset=UTF-8')
      return 'handled'
    case 'invalid_grant':
      return 'invalid_grant'
    case 'hang':
      ctx.req.resume()
      return 'handled'
  }
}
