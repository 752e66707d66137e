// Access guards run on the raw request before Fastify: target form, Host, path safety, browsers, local keys, route rules.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { ProxyConfig } from '../config/types.js'
import { ProxyError, type ErrorCode } from '../shared/errors.js'
import { compileRoutes } from './access.js'
import { GUARD_CHECKS, LOOPBACK_NAMES, sha256, type GuardRequest, type GuardSettings } from './guard-checks.js'

export type RefusalCounter = (code: ErrorCode) => void

export interface Guard {
  /**
   * Writes a refusal and returns true, or returns false to let the request through.
   * `adminListener`: the separate admin port, which serves no OAC path and needs no local key.
   */
  check(req: IncomingMessage, res: ServerResponse, adminListener?: boolean): boolean
  /** CONNECT and Upgrade requests never reach Fastify. */
  refuseSocket(req: IncomingMessage, socket: Duplex, code: 'connect_refused' | 'upgrade_refused'): void
}

/** What the checks need from the config, compiled once. */
function guardSettings(config: ProxyConfig, onRefuse: RefusalCounter, adminKey: string | undefined): GuardSettings {
  const { security } = config
  const allowedHosts = new Set(security.allowedHosts)
  if (
    config.listen.tcp &&
    !LOOPBACK_NAMES.has(config.listen.host) &&
    config.listen.host !== '0.0.0.0' &&
    config.listen.host !== '::'
  ) {
    allowedHosts.add(config.listen.host.toLowerCase())
  }
  // only routes with access rules are looked up per request (none: no lookup at all)
  const routes = compileRoutes(config.routes)
  return {
    allowedHosts,
    allowedOrigins: new Set(security.allowedOrigins),
    keyDigests: security.localKeys.map((k) => sha256(k.reveal())),
    keyHeader: security.localKeyHeader,
    routes,
    checkedRoutes: routes.some((r) => r.check !== undefined),
    adminKey,
    onRefuse,
  }
}

/** Answers a CONNECT or Upgrade request on the bare socket and closes it. */
function refuseSocket(onRefuse: RefusalCounter, socket: Duplex, code: 'connect_refused' | 'upgrade_refused'): void {
  onRefuse(code)
  const err =
    code === 'connect_refused'
      ? new ProxyError(code, 'CONNECT is not supported: this is not a forward proxy')
      : new ProxyError(code, 'protocol upgrades are not supported')
  const body = JSON.stringify(err.toBody())
  socket.end(
    `HTTP/1.1 ${err.httpStatus} ${err.httpStatus === 405 ? 'Method Not Allowed' : 'Forbidden'}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `connection: close\r\n\r\n${body}`,
  )
}

export function createGuard(config: ProxyConfig, onRefuse: RefusalCounter = () => {}, adminKey?: string): Guard {
  const settings = guardSettings(config, onRefuse, adminKey)
  return {
    check(req, res, adminListener = false) {
      const url = req.url ?? ''
      const q = url.indexOf('?')
      const rawPath = q < 0 ? url : url.slice(0, q)
      const g: GuardRequest = { req, res, adminListener, url, q, rawPath, path: rawPath, corsOrigin: undefined }
      for (const guardCheck of GUARD_CHECKS) if (guardCheck(g, settings)) return true
      return false
    },
    refuseSocket(_req, socket, code) {
      refuseSocket(onRefuse, socket, code)
    },
  }
}

export { methodOverrides } from './access.js'
export { pathSafe } from './normalize.js'
