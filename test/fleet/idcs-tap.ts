// A tiny HTTP proxy in front of the simulator's IDCS for the fleet suites: it knows which replica process sent each
// token request (by its socket, through /proc), times each token response, and can hold or drop a request.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { request } from 'undici'
import type { Simulator } from '../../src/simulator/index.js'
import { forwardable } from '../reliability/support/idcs-front.js'

/** One token request as the tap saw it. */
export interface TapExchange {
  /** The process that sent it (undefined when it could not be found). */
  pid: number | undefined
  arrivedAt: number
  /** performance.now() just before the response was handed to the socket (undefined: never answered). */
  answeredAt?: number
  status?: number
  /** Whether the answer carried a new refresh token (a rotation happened at the identity domain). */
  rotated?: boolean
  /** The sender was gone before the request was forwarded: the identity domain never saw it. */
  dropped?: boolean
  /** Whether the sender's connection has closed. */
  gone(): boolean
}

export interface IdcsTap {
  url: string
  readonly exchanges: TapExchange[]
  inflight(): number
  /**
   * Called when a token request arrived, before it is forwarded; the request is forwarded after the returned
   * promise settles, and only if its sender is still connected.
   */
  onArrival: ((exchange: TapExchange) => Promise<void> | void) | undefined
}

/** The socket inode of the loopback TCP connection from clientPort to serverPort (Linux /proc/net/tcp). */
function socketInode(clientPort: number, serverPort: number): string | undefined {
  const hex = (p: number): string => p.toString(16).toUpperCase().padStart(4, '0')
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (cols.length < 10) continue
      if (cols[1]?.endsWith(':' + hex(clientPort)) && cols[2]?.endsWith(':' + hex(serverPort))) return cols[9]
    }
  }
  return undefined
}

/** Which of `pids` owns the socket with this inode. */
function ownerOf(inode: string, pids: number[]): number | undefined {
  const target = `socket:[${inode}]`
  for (const pid of pids) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return pid
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined
}

/** Starts the tap; `pids()` lists the replica processes a sender is looked up among. */
export async function startIdcsTap(t: Test, sim: Simulator, pids: () => number[]): Promise<IdcsTap> {
  let inflight = 0
  let port = 0
  const tap: IdcsTap = { url: '', exchanges: [], inflight: () => inflight, onArrival: undefined }
  const forward = async (
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> => {
    const up = await request(sim.idcsUrl + (req.url ?? '/'), {
      method: (req.method ?? 'GET') as 'GET',
      headers: forwardable(req.headers),
      body: body.length > 0 ? body : null,
    })
    return { status: up.statusCode, headers: forwardable(up.headers), body: Buffer.from(await up.body.arrayBuffer()) }
  }
  const server = createServer((req, res) => {
    inflight++
    let finished = false
    let clientGone = false
    const finish = (): void => {
      if (!finished) inflight--
      finished = true
    }
    req.on('close', () => {
      if (!req.complete) finish()
    })
    res.on('close', () => {
      if (!res.writableFinished) clientGone = true
    })
    const isToken = (req.url ?? '').startsWith('/oauth2/v1/token')
    const inode = isToken ? socketInode(req.socket.remotePort ?? 0, port) : undefined
    const exchange: TapExchange = {
      pid: inode ? ownerOf(inode, pids()) : undefined,
      arrivedAt: performance.now(),
      gone: () => clientGone || req.socket.destroyed,
    }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      void (async () => {
        try {
          if (isToken) {
            tap.exchanges.push(exchange)
            await tap.onArrival?.(exchange)
            if (clientGone || req.socket.destroyed) {
              exchange.dropped = true
              return
            }
          }
          const up = await forward(req, Buffer.concat(chunks))
          let rotated = false
          if (isToken && up.status === 200) {
            try {
              rotated =
                typeof (JSON.parse(up.body.toString('utf8')) as { refresh_token?: unknown }).refresh_token === 'string'
            } catch {
              // not a token response
            }
          }
          res.writeHead(up.status, { ...up.headers, 'content-length': String(up.body.length) })
          if (isToken) {
            exchange.status = up.status
            exchange.rotated = rotated
            exchange.answeredAt = performance.now()
          }
          res.end(up.body)
        } catch {
          res.destroy()
        } finally {
          finish()
        }
      })()
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
  tap.url = `http://127.0.0.1:${port}`
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return tap
}
