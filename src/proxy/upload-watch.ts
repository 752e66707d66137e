// A caller's request body that stops moving while it holds an upstream slot: answered 408 and cut, so the slot comes back.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ProxyError } from '../shared/errors.js'
import { sendError } from './send-error.js'

/**
 * Watches the request body of a request holding an upstream slot: when no byte of it moves for `idleMs`
 * (the caller stopped sending, or nothing takes it), the caller gets 408 request_timeout and the connection
 * is closed, which also ends the upstream request. A body already received in full is not watched.
 */
export function watchUpload(request: FastifyRequest, reply: FastifyReply, idleMs: number, route: string): void {
  const raw = request.raw
  const hasBody = request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length']) > 0
  if (!hasBody || raw.complete || idleMs <= 0) return
  let armed = true
  const stop = (): void => {
    if (!armed) return
    armed = false
    reply.raw.off('timeout', onIdle)
    // once the answer is sent, the socket's timeout is the server's keep-alive timeout: leave it alone
    if (!reply.raw.writableEnded) raw.socket?.setTimeout(0)
  }
  function onIdle(): void {
    stop()
    // the whole body arrived (any wait from here on is the upstream's, under its own timeouts), or the answer is underway
    if (raw.complete || reply.sent) return
    request.log.info(
      { event: 'request.body_stalled', method: request.method, route, idleMs },
      'the request body made no progress; the request is cut',
    )
    reply.header('connection', 'close')
    sendError(
      reply,
      new ProxyError('request_timeout', `the request body made no progress for ${idleMs / 1000} s`, {
        hint: 'Send the body without pauses; proxy.upstreamTimeoutSeconds sets the longest pause.',
      }),
    )
    // nothing more of this body will be read: closing the connection also ends the upstream request
    const cut = (): void => void raw.socket?.destroy()
    if (reply.raw.writableFinished) cut()
    else reply.raw.once('finish', cut)
  }
  // on the response, not the socket: Node's server then leaves the socket to this handler, body complete or not
  reply.raw.setTimeout(idleMs, onIdle)
  raw.once('end', stop)
  reply.raw.once('close', stop)
}
