// Options of the upstreams: the OAC URL, more routes and credentials, and how requests are forwarded to them.
import { MAX_DURATION_SECONDS, type OptionSpec } from './spec.js'

export const DEFAULT_REPLAY_BODY_LIMIT_BYTES = 1024 * 1024
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 10
export const DEFAULT_UPSTREAM_TIMEOUT_SECONDS = 120
export const DEFAULT_UPSTREAM_CONNECTIONS = 64
export const DEFAULT_QUEUE_TIMEOUT_SECONDS = 10
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 10

/** The OAC instance every request not under a route goes to. */
export const OAC_URL_OPTION: OptionSpec = {
  path: 'oacUrl',
  type: 'url',
  required: true,
  flag: 'oac-url',
  description:
    'Base URL of the OAC instance, e.g. https://myoac-tenancy-fr.analytics.ocp.oraclecloud.com. Requests to the proxy are forwarded here.',
}

/** How requests are forwarded: replay buffer, timeouts, connections, shutdown. */
export const PROXY_OPTIONS: readonly OptionSpec[] = [
  {
    path: 'proxy.replayBodyLimitBytes',
    type: 'integer',
    default: DEFAULT_REPLAY_BODY_LIMIT_BYTES,
    minimum: 0,
    description:
      'Request bodies up to this size are buffered so a request can be replayed once after an upstream 401; larger bodies stream and are not replayed.',
  },
  {
    path: 'proxy.connectTimeoutSeconds',
    type: 'number',
    default: DEFAULT_CONNECT_TIMEOUT_SECONDS,
    minimum: 0.1,
    maximum: MAX_DURATION_SECONDS,
    description: 'Timeout for opening a connection to the upstream (answered 504 upstream_timeout).',
  },
  {
    path: 'proxy.upstreamTimeoutSeconds',
    type: 'number',
    default: DEFAULT_UPSTREAM_TIMEOUT_SECONDS,
    minimum: 0.1,
    maximum: MAX_DURATION_SECONDS,
    description:
      "Longest wait for upstream response headers, longest pause inside a response body, and longest pause inside a caller's request body while it holds an upstream slot (then 408 request_timeout, and the connection is closed).",
  },
  {
    path: 'proxy.connections',
    type: 'integer',
    default: DEFAULT_UPSTREAM_CONNECTIONS,
    minimum: 1,
    description:
      'Most requests in flight to the upstream of one route (and connections kept open to it); further requests wait for a free one.',
  },
  {
    path: 'proxy.queueTimeoutSeconds',
    type: 'number',
    default: DEFAULT_QUEUE_TIMEOUT_SECONDS,
    minimum: 0,
    maximum: MAX_DURATION_SECONDS,
    description:
      'Longest wait for a free upstream slot when proxy.connections requests are in flight; then the caller gets 503 upstream_busy with Retry-After.',
  },
  {
    path: 'proxy.shutdownGraceSeconds',
    type: 'number',
    default: DEFAULT_SHUTDOWN_GRACE_SECONDS,
    minimum: 0,
    maximum: MAX_DURATION_SECONDS,
    description: 'On SIGTERM/SIGINT, how long in-flight requests may finish.',
  },
]

/** More credentials by name, and more upstreams that use them. */
export const ROUTING_OPTIONS: readonly OptionSpec[] = [
  {
    path: 'credentials',
    type: 'credentials',
    noEnv: true,
    description:
      'More credentials by name, each with the credential keys above (idcsUrl defaults to the top-level one). Used by routes.',
  },
  {
    path: 'routes',
    type: 'routes',
    noEnv: true,
    description:
      "More upstreams: a list of {prefix, upstream, credential}; requests under prefix go to upstream with that credential's token. Everything else goes to oacUrl.",
  },
]
