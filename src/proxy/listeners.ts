// The raw HTTP servers under Fastify: guards first, CONNECT/Upgrade refused, parse errors answered with stable codes.
import { existsSync, lstatSync, unlinkSync } from 'node:fs'
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http'
import { createServer } from '../shared/node-http.js'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { ADMIN_PREFIX } from '../shared/admin-path.js'
import { ProxyError, type ErrorCode } from '../shared/errors.js'
import type { Guard } from './guards.js'
import { refuseForeignPath } from '../shared/atomic-file.js'

/** Node's default; larger request heads get 431 header_too_large. */
export const MAX_HEADER_BYTES = 16 * 1024

/** Which paths a listener serves: everything, only the admin prefix, or everything but it. */
export type ListenerScope = 'all' | 'admin' | 'proxy'

export function createGuardedServer(
  guard: Guard,
  handler: RequestListener,
  onRefuse: (code: ErrorCode) => void,
  scope: ListenerScope = 'all',
): Server {
  const inScope = (url: string | undefined): boolean =>
    scope === 'all' || (scope === 'admin') === (url ?? '').startsWith(ADMIN_PREFIX)
  const server = createServer(
    { maxHeaderSize: MAX_HEADER_BYTES, requireHostHeader: false },
    (req: IncomingMessage, res: ServerResponse) => {
      if (guard.check(req, res, scope === 'admin')) return
      if (!inScope(req.url)) return notHere(res, scope)
      handler(req, res)
    },
  )
  // Expect: 100-continue is answered only once the guards let the request through
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (guard.check(req, res, scope === 'admin')) return
    if (!inScope(req.url)) return notHere(res, scope)
    res.writeContinue()
    handler(req, res)
  })
  server.on('connect', (req: IncomingMessage, socket: Duplex) => guard.refuseSocket(req, socket, 'connect_refused'))
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => guard.refuseSocket(req, socket, 'upgrade_refused'))
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket, onRefuse))
  return server
}

function notHere(res: ServerResponse, scope: ListenerScope): void {
  const err = new ProxyError(
    'admin_not_found',
    scope === 'admin' ? 'this listener serves only /-/ admin endpoints' : 'admin endpoints are on the admin listener',
    {
      hint: 'See admin.port in the configuration.',
    },
  )
  const body = JSON.stringify(err.toBody())
  res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

/** Malformed requests (CR/LF in headers, CL+TE, oversized heads...) never reach a handler. */
export function answerClientError(
  err: NodeJS.ErrnoException,
  socket: Duplex,
  onRefuse: (code: ErrorCode) => void,
): void {
  if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable) {
    socket.destroy()
    return
  }
  const e =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new ProxyError('header_too_large', `request headers are larger than ${MAX_HEADER_BYTES} bytes`)
      : new ProxyError('bad_request', `malformed HTTP request (${String(err.code ?? 'parse error').slice(0, 40)})`)
  onRefuse(e.code)
  const body = JSON.stringify(e.toBody())
  const reason = e.httpStatus === 431 ? 'Request Header Fields Too Large' : 'Bad Request'
  socket.end(
    `HTTP/1.1 ${e.httpStatus} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  )
}

/**
 * Listens on a unix socket created with `mode` by the umask (no window with looser permissions, no chmod
 * that could follow a swapped-in link); removes a stale socket file of this user first, never a symlink.
 */
export async function listenUnix(server: Server, path: string, mode: number): Promise<void> {
  refuseForeignPath(path, 'unix socket')
  if (existsSync(path)) {
    if (await socketAlive(path)) {
      throw new ProxyError('state_locked', `another process is listening on the unix socket ${path}`, {
        hint: 'Stop it or choose another listen.socket.',
      })
    }
    unlinkSync(path)
  }
  const previous = process.umask(0o777 & ~mode)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } finally {
    process.umask(previous)
  }
  const st = lstatSync(path)
  if (!st.isSocket() || (st.mode & 0o777) !== mode) {
    server.close()
    throw new ProxyError(
      'file_unsafe',
      `the unix socket ${path} was replaced or has mode ${(st.mode & 0o777).toString(8)}`,
      {
        hint: 'Put the socket in a directory only this user can write.',
      },
    )
  }
  server.once('close', () => {
    try {
      unlinkSync(path)
    } catch {
      // already gone
    }
  })
}

function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s: Socket = connect(path)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}
