// Opens the proxy's listeners (TCP, unix socket, separate admin port) and closes them with a drain period.
import type { Server } from 'node:http'
import { isLoopbackHost } from '../config/security.js'
import type { ProxyConfig } from '../config/types.js'
import { UNLOGGED_MESSAGE, type Logger } from '../shared/log.js'
import { listenUnix } from './listeners.js'
import type { BuiltServer } from './server.js'

export interface OpenListeners {
  url: string
  port: number
  adminUrl: string
  close(graceMs: number): Promise<void>
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

function listenTcp(srv: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject)
    srv.listen(port, host, () => {
      srv.off('error', reject)
      const address = srv.address()
      resolve(typeof address === 'object' && address ? address.port : port)
    })
  })
}

export async function openListeners(config: ProxyConfig, server: BuiltServer, logger: Logger): Promise<OpenListeners> {
  const { app } = server
  const extra: Server[] = []
  await app.ready()
  try {
    return await listenAll(config, server, logger, extra)
  } catch (err) {
    // a listener that could not be opened (a refused socket path...) leaves none open
    for (const s of extra) s.close()
    await app.close()
    if (app.server.listening) app.server.close()
    throw err
  }
}

async function listenAll(
  config: ProxyConfig,
  server: BuiltServer,
  logger: Logger,
  extra: Server[],
): Promise<OpenListeners> {
  const { app } = server
  let port = config.listen.port
  if (config.listen.tcp) {
    // proxy.listening says where; Fastify's own "Server listening at" line is not written
    await app.listen({ host: config.listen.host, port: config.listen.port, listenTextResolver: () => UNLOGGED_MESSAGE })
    const address = app.server.address()
    port = typeof address === 'object' && address ? address.port : port
  }
  if (config.listen.socket) {
    const srv = config.listen.tcp ? server.createExtraServer() : app.server
    await listenUnix(srv, config.listen.socket, config.listen.socketMode)
    logger.info(
      { event: 'proxy.listening_socket', socket: config.listen.socket, mode: config.listen.socketMode.toString(8) },
      `also listening on ${config.listen.socket}`,
    )
  }
  const url = config.listen.tcp ? `http://${hostForUrl(config.listen.host)}:${port}` : `unix:${config.listen.socket}`
  let adminUrl = url
  if (config.admin.port !== undefined) {
    const srv = server.createExtraServer('admin')
    extra.push(srv)
    const adminPort = await listenTcp(srv, config.admin.host, config.admin.port)
    adminUrl = `http://${hostForUrl(config.admin.host)}:${adminPort}`
    logger.info({ event: 'admin.listening', url: adminUrl }, `admin endpoints on ${adminUrl}`)
  }
  if (config.listen.tcp && !isLoopbackHost(config.listen.host)) {
    logger.warn(
      { event: 'proxy.exposed', host: config.listen.host, localKeys: config.security.localKeys.length },
      config.security.localKeys.length > 0
        ? `listening beyond loopback on ${config.listen.host}; callers must present a local key`
        : `listening beyond loopback on ${config.listen.host} WITHOUT local keys: anyone who can reach this port acts on OAC with this proxy's rights`,
    )
  }
  return {
    url,
    port,
    adminUrl,
    async close(graceMs) {
      const grace = setTimeout(() => {
        app.server.closeAllConnections()
        for (const s of extra) s.closeAllConnections()
      }, graceMs)
      grace.unref()
      // connections that go idle after their last answer are closed at once, not after the keep-alive timeout
      const sweep = setInterval(() => {
        app.server.closeIdleConnections()
        for (const s of extra) s.closeIdleConnections()
      }, 50)
      sweep.unref()
      await Promise.all(extra.map((s) => new Promise((resolve) => s.close(resolve))))
      await app.close()
      if (!config.listen.tcp) {
        // Fastify only closes a server it started listening itself
        app.server.closeAllConnections()
        await new Promise((resolve) => app.server.close(resolve))
      }
      clearTimeout(grace)
      clearInterval(sweep)
    },
  }
}
