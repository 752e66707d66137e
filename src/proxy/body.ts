// Request bodies: small ones are read whole so the request can be replayed after a 401, large ones stream.
import { Readable } from 'node:stream'
import type { FastifyRequest } from 'fastify'
import { ProxyError } from '../shared/errors.js'
import type { ProxyRequestState } from './request-state.js'

/**
 * Reads a body of at most `replayLimit` bytes into `state.bufferedBody` and gives the request a fresh stream of it;
 * a longer one (or one of unknown length) streams and is marked not replayable.
 */
export async function holdBody(request: FastifyRequest, state: ProxyRequestState, replayLimit: number): Promise<void> {
  const body = request.body as Readable | undefined
  if (!body || typeof (body as Readable).pipe !== 'function') return
  const length = Number(request.headers['content-length'])
  const chunked = request.headers['transfer-encoding'] !== undefined
  if (!chunked && Number.isFinite(length) && length <= replayLimit) {
    state.bufferedBody = await readAll(body, replayLimit)
    request.body = Readable.from([state.bufferedBody])
  } else if (chunked) {
    // small chunked bodies are read whole first, so a malformed one never reaches the upstream
    const head = await readUpTo(body, replayLimit)
    if (head.complete) {
      state.bufferedBody = head.buffer
      request.body = Readable.from([head.buffer])
    } else {
      state.replayable = false
      request.body = Readable.from(concatStreams(head.buffer, body))
    }
  } else {
    state.replayable = false
  }
}

async function readAll(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    size += (chunk as Buffer).length
    if (size > limit) throw new ProxyError('bad_request', 'request body is longer than its Content-Length')
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/** Reads until the end or until more than `limit` bytes arrived. */
async function readUpTo(stream: Readable, limit: number): Promise<{ complete: boolean; buffer: Buffer }> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer)
    size += (chunk as Buffer).length
    if (size > limit) return { complete: false, buffer: Buffer.concat(chunks) }
  }
  return { complete: true, buffer: Buffer.concat(chunks) }
}

/** What was read already, then the rest of the stream. */
async function* concatStreams(head: Buffer, rest: Readable): AsyncGenerator<Buffer> {
  yield head
  for await (const chunk of rest) yield chunk as Buffer
}
