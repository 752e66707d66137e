// Small node:http helpers for the simulator: tracked servers, request context, bodies, answers.

import { createServer } from '../shared/node-http.js'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { SimState } from './state.js'
import type { SimCall } from './types.js'

export interface RequestContext {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly url: URL
  readonly call: SimCall
  readonly state: SimState
}

export class BodyTooLargeError extends Error {
  constructor(limit: number) {
    super(`request body larger than ${limit} bytes`)
  }
}

export function sanitizeHeaders(headers: IncomingMessage['headers']): Record<string, string | string[] | undefined> {
  const copy: Record<string, string | string[] | undefined> = { ...headers }
  if (copy.authorization !== undefined) copy.authorization = '[present]'
  return copy
}

/** Record the call (status 0 until answered) and build the per-request context. */
export function createContext(
  server: SimCall['server'],
  req: IncomingMessage,
  res: ServerResponse,
  state: SimState,
): RequestContext {
  const url = new URL(req.url ?? '/', 'http://sim.invalid')
  const call: SimCall = {
    server,
    method: req.method ?? 'GET',
    path: url.pathname,
    status: 0,
    atMs: state.clock.now(),
    headers: sanitizeHeaders(req.headers),
  }
  state.calls.push(call)
  // A client that goes away must not crash the simulator.
  req.on('error', () => {})
  res.on('error', () => {})
  return { req, res, url, call, state }
}

/** Write the status line and headers, recording the status in the call. */
export function startResponse(ctx: RequestContext, status: number, headers: Record<string, string | number>): boolean {
  if (ctx.res.headersSent || ctx.res.destroyed) return false
  ctx.call.status = status
  ctx.res.writeHead(status, headers)
  return true
}

export function sendBody(
  ctx: RequestContext,
  status: number,
  body: string,
  contentType: string,
  headers: Record<string, string | number> = {},
): void {
  const bytes = Buffer.from(body, 'utf8')
  const all = { 'content-type': contentType, 'content-length': bytes.length, ...headers }
  if (startResponse(ctx, status, all)) ctx.res.end(bytes)
}

export function sendJson(
  ctx: RequestContext,
  status: number,
  body: unknown,
  headers: Record<string, string | number> = {},
): void {
  sendBody(ctx, status, JSON.stringify(body), 'application/json;charset=UTF-8', headers)
}

/** Read a small body into memory; rejects with BodyTooLargeError past `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        req.removeAllListeners('data')
        req.resume()
        reject(new BodyTooLargeError(limit))
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
    req.on('close', () => {
      if (!req.complete) reject(new Error('request aborted'))
    })
  })
}

/** Consume a body of any size without keeping it, passing each chunk to `onChunk`. */
export function consumeBody(req: IncomingMessage, onChunk: (chunk: Buffer) => void = () => {}): Promise<number> {
  return new Promise((resolve, reject) => {
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      onChunk(chunk)
    })
    req.on('end', () => resolve(size))
    req.on('error', reject)
    req.on('close', () => {
      if (!req.complete) reject(new Error('request aborted'))
    })
  })
}

export interface TrackedServer {
  readonly server: Server
  listen(host: string, port: number): Promise<number>
  close(): Promise<void>
}

/** An http server that remembers its sockets so close() can end keep-alive and hung requests. */
export function createTrackedServer(
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): TrackedServer {
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    handler(req, res).catch(() => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: 'server_error', message: 'Simulator failure.' }))
      } else {
        res.destroy()
      }
    })
  })
  // Large uploads may take longer than node's default request timeout.
  server.requestTimeout = 0
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  return {
    server,
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          const address = server.address()
          resolve(typeof address === 'object' && address ? address.port : port)
        })
      })
    },
    close() {
      return new Promise((resolve) => {
        if (!server.listening) {
          resolve()
          return
        }
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
        server.closeAllConnections()
      })
    },
  }
}
