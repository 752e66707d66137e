// A tiny HTTP proxy in front of the simulator's IDCS for the SIGKILL suite: it times each token response it sends.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { request } from 'undici'
import type { Simulator } from '../../../src/simulator/index.js'

export interface IdcsFront {
  url: string
  /** performance.now() just before a token response carrying a refresh token was handed to the socket. */
  sentAt: Map<string, number>
  inflight(): number
  /** Called with the new refresh token just before its response is sent. */
  beforeSend: ((refreshToken: string) => void) | undefined
  close(): Promise<void>
}

/** Headers that belong to one hop and are not forwarded. */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length'])

/** The request headers a test front forwards to the simulator. */
export function forwardable(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k)) continue
    out[k] = Array.isArray(v) ? v.join(', ') : v
  }
  return out
}

/** A tiny HTTP proxy in front of the simulator's IDCS that timestamps each token response it sends. */
export async function startIdcsFront(t: Test, sim: Simulator): Promise<IdcsFront> {
  let inflight = 0
  const front: IdcsFront = {
    url: '',
    sentAt: new Map(),
    inflight: () => inflight,
    beforeSend: undefined,
    close: async () => {},
  }
  const server = createServer((req, res) => {
    inflight++
    let finished = false
    const finish = (): void => {
      if (!finished) inflight--
      finished = true
    }
    // a client killed halfway through its request never sends the end of it
    req.on('close', () => {
      if (!req.complete) finish()
    })
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      void (async () => {
        try {
          const up = await request(sim.idcsUrl + (req.url ?? '/'), {
            method: (req.method ?? 'GET') as 'GET',
            headers: forwardable(req.headers),
            body: chunks.length > 0 ? Buffer.concat(chunks) : null,
          })
          const body = Buffer.from(await up.body.arrayBuffer())
          let refreshToken: string | undefined
          if (up.statusCode === 200 && (req.url ?? '').startsWith('/oauth2/v1/token')) {
            try {
              const rt = (JSON.parse(body.toString('utf8')) as { refresh_token?: unknown }).refresh_token
              if (typeof rt === 'string') refreshToken = rt
            } catch {
              // not a token response
            }
          }
          res.writeHead(up.statusCode, { ...forwardable(up.headers), 'content-length': String(body.length) })
          if (refreshToken) {
            front.beforeSend?.(refreshToken)
            front.sentAt.set(refreshToken, performance.now())
          }
          res.end(body)
        } catch {
          res.destroy()
        } finally {
          finish()
        }
      })()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  front.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  front.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  t.teardown(() => front.close())
  return front
}
