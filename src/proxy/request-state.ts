// Per-request proxy state carried from the pre-handler to the upstream hooks.
import type { Readable } from 'node:stream'

export interface ProxyRequestState {
  /** The access token value forwarded upstream. */
  token: string
  /** Body held in memory so the request can be replayed once after a 401; undefined if streamed. */
  bufferedBody: Buffer | undefined
  /** True when the request can be sent a second time. */
  replayable: boolean
  replayed: boolean
  dest: string
  fromOptions: unknown
  /** Prefix of the route (metrics label). */
  route: string
}

declare module 'fastify' {
  interface FastifyRequest {
    proxyState: ProxyRequestState | null
  }
}

export type BodyStream = Readable
