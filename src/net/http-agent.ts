// Outbound HTTP: undici agents with verified TLS, an optional extra CA bundle, and HTTPS_PROXY / NO_PROXY support.
import type { Dispatcher } from 'undici'
import { Agent, EnvHttpProxyAgent } from './undici.js'
import type { ProxyConfig } from '../config/types.js'

export interface AgentOptions {
  connections?: number
  headersTimeoutMs: number
  bodyTimeoutMs: number
  connectTimeoutMs: number
  /** PEM of extra trusted CAs (added to Node's defaults by undici's TLS options). */
  ca: string | undefined
}

const PROXY_VARS = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY']

/** True when the environment asks for an outbound proxy. */
export function proxyFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return PROXY_VARS.some((v) => Boolean(env[v]))
}

export function createAgent(options: AgentOptions, env: NodeJS.ProcessEnv = process.env): Dispatcher {
  const tls = options.ca ? { ca: options.ca } : {}
  const common = {
    ...(options.connections ? { connections: options.connections } : {}),
    keepAliveTimeout: 30_000,
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: options.bodyTimeoutMs,
    connect: { timeout: options.connectTimeoutMs, ...tls },
  }
  // certificates are always verified: there is deliberately no option to turn that off
  if (proxyFromEnv(env)) return new EnvHttpProxyAgent({ ...common, requestTls: tls })
  return new Agent(common)
}

/** An agent for the identity domain (and one-shot checks): timeouts from token.idpTimeout, tls.caFile trusted. */
export function createIdpAgent(config: Pick<ProxyConfig, 'token' | 'tls'>): Dispatcher {
  return createAgent({
    headersTimeoutMs: config.token.idpTimeoutMs,
    bodyTimeoutMs: config.token.idpTimeoutMs,
    connectTimeoutMs: config.token.idpTimeoutMs,
    ca: config.tls.ca,
  })
}

const IDP_AGENTS = new WeakMap<object, Dispatcher>()

/**
 * The shared identity-domain agent of a configuration, for callers that do not bring their own (the
 * one-shot commands: login, token, doctor). Its idle sockets do not keep the process alive.
 */
export function idpAgentFor(config: Pick<ProxyConfig, 'token' | 'tls'>): Dispatcher {
  let agent = IDP_AGENTS.get(config)
  if (!agent) {
    agent = createIdpAgent(config)
    IDP_AGENTS.set(config, agent)
  }
  return agent
}
