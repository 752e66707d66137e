// The route's pre-handler: an upstream slot (or 503 upstream_busy), then the token and, for small bodies, the body in hand.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { RouteConfig } from '../config/types.js'
import { ProxyError } from '../shared/errors.js'
import type { TokenManager } from '../token/manager.js'
import { holdBody } from './body.js'
import { callerGone } from './client-abort.js'
import type { ProxyRequestState } from './request-state.js'
import type { RouteContext } from './route-context.js'
import { Slots, type Release } from './slots.js'
import { streamedUntilClose } from './transfer-gc.js'
import { watchUpload } from './upload-watch.js'

export type PreHandler = (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void

/** A fresh state for a request sent with `token`. */
function newState(token: string, route: RouteConfig): ProxyRequestState {
  return {
    token,
    bufferedBody: undefined,
    replayable: true,
    replayed: false,
    dest: '',
    fromOptions: undefined,
    route: route.prefix,
  }
}

/** Keeps the slot until the answer is sent or the caller is gone. */
function hold(reply: FastifyReply, release: Release): void {
  // 'close' comes once the answer is sent or the caller is gone, either way the upstream is done with it
  if (reply.raw.destroyed || reply.raw.writableFinished) release()
  else reply.raw.once('close', release)
}

/** 503 upstream_busy: every slot of the route stayed taken for the whole queue timeout. */
function busyError(route: RouteConfig, ctx: RouteContext): ProxyError {
  const { connections, queueTimeoutMs } = ctx.config.proxy
  return new ProxyError(
    'upstream_busy',
    `all ${connections} upstream slots of route ${route.prefix} stayed busy for ${queueTimeoutMs / 1000} s`,
    {
      retryAfterS: 1,
      hint: 'Slow or stuck upstream answers hold them; retry shortly. See proxy.connections and proxy.queueTimeoutSeconds.',
    },
  )
}

/** The pre-handler of one route: slow or stuck answers hold their slot, the others wait a bounded time for one. */
export function createPreHandler(route: RouteConfig, manager: TokenManager, ctx: RouteContext): PreHandler {
  const { config, counters } = ctx
  const replayLimit = config.proxy.replayBodyLimitBytes
  const slots = new Slots(config.proxy.connections, config.proxy.queueTimeoutMs)

  /** Fast path: a free slot, a held token and no body to read means no promise at all. */
  function preHandler(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
    counters.requests++
    const release = slots.tryAcquire()
    if (release === undefined) {
      slots.wait().then((granted) => {
        if (granted === undefined) {
          counters.upstreamBusy++
          request.log.debug({ event: 'upstream.busy', route: route.prefix }, 'no upstream slot came free in time')
          done(busyError(route, ctx))
          return
        }
        hold(reply, granted)
        // a caller that gave up while waiting is not forwarded
        if (callerGone(request)) done(new ProxyError('bad_request', 'the client closed the connection'))
        else withSlot(request, reply, done)
      }, done)
      return
    }
    hold(reply, release)
    withSlot(request, reply, done)
  }

  function withSlot(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
    // a body that stops moving must not keep the slot
    watchUpload(request, reply, config.proxy.upstreamTimeoutMs, route.prefix)
    const token = manager.peek()
    if (token !== undefined && request.body === undefined) {
      request.proxyState = newState(token.value, route)
      done()
      return
    }
    prepare(request, reply, token?.value).then(() => done(), done)
  }

  async function prepare(request: FastifyRequest, reply: FastifyReply, held: string | undefined): Promise<void> {
    let tokenValue = held
    if (tokenValue === undefined) {
      try {
        tokenValue = (await manager.get()).value
      } catch (err) {
        counters.tokenErrors++
        throw err
      }
    }
    const state = newState(tokenValue, route)
    request.proxyState = state
    await holdBody(request, state, replayLimit)
    if (!state.replayable) streamedUntilClose(reply.raw, ctx.transferGc)
  }

  return preHandler
}
