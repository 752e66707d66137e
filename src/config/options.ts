// The table of every configuration option: type, default, env var, flag and description.

export type OptionType =
  | 'string'
  | 'url'
  | 'integer'
  | 'number'
  | 'boolean'
  | 'secret'
  | 'enum'
  | 'credentials'
  | 'routes'
  | 'stringList'
  | 'access'

export interface OptionSpec {
  /** Dotted path in the YAML file, e.g. `listen.port`. */
  path: string
  type: OptionType
  description: string
  default?: string | number | boolean
  required?: boolean
  minimum?: number
  maximum?: number
  enum?: readonly string[]
  /** Regular expression a string option must match. */
  pattern?: string
  /** Long command-line flag, if the option has one. */
  flag?: string
  /** Also a key of each entry under `credentials:` (top level = the default credential). */
  credential?: boolean
  /** No environment variable (structured values come from the file). */
  noEnv?: boolean
}

export const ENV_PREFIX = 'OAC_PROXY_'

export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 8787
/** Longest duration any option accepts (Node timers cannot wait longer than about 24.8 days). */
export const MAX_DURATION_SECONDS = 86_400
export const DEFAULT_STATE_FILE = 'oac-token-proxy.state.json'
export const DEFAULT_REFRESH_AHEAD_RATIO = 0.5
export const DEFAULT_REFRESH_JITTER_RATIO = 0.1
export const DEFAULT_MIN_LEAD_SECONDS = 30
export const DEFAULT_EXPIRY_SAFETY_SECONDS = 5
export const DEFAULT_BACKOFF_INITIAL_SECONDS = 1
export const DEFAULT_BACKOFF_MAX_SECONDS = 60
export const DEFAULT_IDP_TIMEOUT_SECONDS = 15
/** A refresh-token call is waited for this long: its answer may carry the only valid refresh token. */
export const DEFAULT_REFRESH_ANSWER_TIMEOUT_SECONDS = 300
/** While no usable token is held, a caller's request may start a refresh attempt this often. */
export const DEFAULT_DEMAND_RETRY_SECONDS = 1
export const DEFAULT_CLOCK_JUMP_SECONDS = 5
export const DEFAULT_REPLAY_BODY_LIMIT_BYTES = 1024 * 1024
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 10
export const DEFAULT_UPSTREAM_TIMEOUT_SECONDS = 120
export const DEFAULT_UPSTREAM_CONNECTIONS = 64
export const DEFAULT_QUEUE_TIMEOUT_SECONDS = 10
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 10
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export const GRANTS = ['refresh_token', 'password', 'jwt_bearer', 'client_credentials'] as const
export const CLIENT_AUTH_METHODS = [
  'auto',
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
  'none',
] as const
export const SECRET_FILE_POLICIES = ['refuse', 'warn'] as const
export const DEFAULT_LOCAL_KEY_HEADER = 'authorization'
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const
export const DEFAULT_READY_MIN_REMAINING_SECONDS = 10
export const LOGIN_METHODS = ['device', 'browser'] as const
/** consent: ask the user to consent, which OpenID Connect Core 11 makes the condition for offline access. */
export const LOGIN_PROMPTS = ['consent', 'omit'] as const
export const DEFAULT_LOGIN_PROMPT = 'consent'
export const DEFAULT_GRANT = 'refresh_token'
export const DEFAULT_CLIENT_AUTH = 'auto'
/** The audience older IDCS domains expect in JWT assertions; newer ones also accept the domain URL. */
export const DEFAULT_ASSERTION_AUDIENCE = 'https://identity.oraclecloud.com/'
export const DEFAULT_LOGIN_METHOD = 'device'
export const DEFAULT_REDIRECT_PORT = 0
export const DEFAULT_REDIRECT_PATH = '/callback'
export const DEFAULT_LOGIN_TIMEOUT_SECONDS = 600
/** Credential name of the top-level credential. */
export const DEFAULT_CREDENTIAL = 'default'

export const OPTIONS: readonly OptionSpec[] = [
  {
    path: 'oacUrl',
    type: 'url',
    required: true,
    flag: 'oac-url',
    description:
      'Base URL of the OAC instance, e.g. https://myoac-tenancy-fr.analytics.ocp.oraclecloud.com. Requests to the proxy are forwarded here.',
  },
  {
    path: 'idcsUrl',
    credential: true,
    type: 'url',
    required: true,
    flag: 'idcs-url',
    description: 'Base URL of the IDCS / OCI IAM identity domain, e.g. https://idcs-0123abcd.identity.oraclecloud.com.',
  },
  {
    path: 'clientId',
    credential: true,
    type: 'string',
    required: true,
    flag: 'client-id',
    description: 'Client ID of the confidential (or public) application registered in the identity domain.',
  },
  {
    path: 'clientSecret',
    credential: true,
    type: 'secret',
    description:
      'Client secret of the application. Omit for a public client. Give it as {env: NAME} or {file: PATH} rather than inline.',
  },
  {
    path: 'scope',
    credential: true,
    type: 'string',
    required: true,
    flag: 'scope',
    description:
      "OAC scope: the OAC app's primary audience followed by urn:opc:resource:consumer::all, then offline_access.",
  },
  {
    path: 'refreshToken',
    credential: true,
    type: 'secret',
    description:
      'Bootstrap refresh token, used only when the state file holds none. A file may be an OAC profile tokens.json.',
  },
  {
    path: 'grant',
    type: 'enum',
    enum: GRANTS,
    default: DEFAULT_GRANT,
    credential: true,
    description:
      'How access tokens are renewed: refresh_token (after a login or with a bootstrap token), jwt_bearer (a user assertion signed with privateKey; no refresh token needed), password (deprecated; fails for federated users), client_credentials (IDCS/My Services APIs only: OAC rejects tokens without a user).',
  },
  {
    path: 'clientAuth',
    type: 'enum',
    enum: CLIENT_AUTH_METHODS,
    default: DEFAULT_CLIENT_AUTH,
    credential: true,
    description:
      'Client authentication at the token endpoint. auto: client_secret_basic with a clientSecret, private_key_jwt with only a privateKey, none (public client) otherwise.',
  },
  {
    path: 'username',
    type: 'string',
    credential: true,
    description: 'User name for the password and jwt_bearer grants (the assertion subject).',
  },
  {
    path: 'password',
    type: 'secret',
    credential: true,
    description: 'Password for the password grant. Give it as {env: NAME} or {file: PATH}.',
  },
  {
    path: 'privateKey',
    type: 'secret',
    credential: true,
    description:
      "PEM private key (PKCS#8 or PKCS#1) of the application's uploaded certificate, for jwt_bearer assertions and private_key_jwt client authentication.",
  },
  {
    path: 'keyId',
    type: 'string',
    credential: true,
    description:
      'Certificate alias uploaded to the application, sent as the assertion kid header. Give keyId or certificate.',
  },
  {
    path: 'certificate',
    type: 'string',
    credential: true,
    description:
      'PEM certificate file of the key; its SHA-1 thumbprint is sent as the assertion x5t header (when keyId is not given).',
  },
  {
    path: 'assertionAudience',
    type: 'string',
    default: DEFAULT_ASSERTION_AUDIENCE,
    credential: true,
    description:
      'aud claim of JWT assertions: https://identity.oraclecloud.com/ (older domains) or the identity domain URL.',
  },
  {
    path: 'tokenFile',
    type: 'string',
    credential: true,
    description:
      "Also write the current access token to this file (atomically, mode 0600) whenever it changes (every refresh, and at start when a saved or imported token is served), for tools that read a token file (e.g. the OCI CLI's --idcs-access-token-file).",
  },
  {
    path: 'stateFile',
    type: 'string',
    default: DEFAULT_STATE_FILE,
    flag: 'state-file',
    description: 'Where the newest refresh token is kept (mode 0600). Relative paths are relative to the config file.',
  },
  {
    path: 'listen.host',
    type: 'string',
    default: DEFAULT_HOST,
    flag: 'host',
    description: 'Address to listen on. Keep it on loopback: the port acts with your OAC rights.',
  },
  {
    path: 'listen.port',
    type: 'integer',
    default: DEFAULT_PORT,
    minimum: 0,
    maximum: 65535,
    flag: 'port',
    description: 'TCP port to listen on (0 picks a free one).',
  },
  {
    path: 'listen.tcp',
    type: 'boolean',
    default: true,
    description: 'Listen on listen.host:listen.port. Set false to serve only on listen.socket.',
  },
  {
    path: 'listen.socket',
    type: 'string',
    description:
      'Also listen on this unix socket path (e.g. /run/oac-token-proxy/proxy.sock); access is then governed by file permissions.',
  },
  {
    path: 'listen.socketMode',
    type: 'string',
    default: '0600',
    pattern: '^0?[0-7]{3}$',
    description: 'Permissions of the unix socket, in octal (0600: only the owner; 0660: the owner and its group).',
  },
  {
    path: 'security.localKeysFile',
    type: 'string',
    description:
      'File of local keys, one per line (# comments): callers must present one, and the proxy swaps it for the real token. Required to listen beyond loopback.',
  },
  {
    path: 'security.localKeyHeader',
    type: 'string',
    default: DEFAULT_LOCAL_KEY_HEADER,
    description:
      'Where callers put the local key: authorization (as "Bearer <key>", which many tools can send) or the name of another header (e.g. x-proxy-key).',
  },
  {
    path: 'security.allowedHosts',
    type: 'stringList',
    description:
      'Host header values accepted besides localhost, 127.0.0.1 and [::1] (e.g. the sidecar service name); anything else gets 421 (DNS rebinding defence).',
  },
  {
    path: 'security.allowedOrigins',
    type: 'stringList',
    description:
      'Browser origins (scheme://host[:port]) allowed to call the proxy. By default no web page can: requests with another Origin or with Sec-Fetch-Site cross-site/same-site are refused.',
  },
  {
    path: 'security.allowNonLoopback',
    type: 'boolean',
    default: false,
    description:
      'Allow a non-loopback listen.host without local keys. Anyone who can reach the port then acts on OAC as you: the proxy logs a warning at every start.',
  },
  {
    path: 'security.secretFilePermissions',
    type: 'enum',
    enum: SECRET_FILE_POLICIES,
    default: 'refuse',
    description:
      'What to do when a secret or key file (or a configuration file holding an inline secret) is readable by group or others: refuse to start (default), or warn and go on (e.g. for a mounted secret you cannot chmod).',
  },
  {
    path: 'access',
    type: 'access',
    noEnv: true,
    description:
      "What callers may do on the OAC route: {readOnly, allowMethods, allowPaths, denyPaths} (paths are globs: * within a segment, ** across). Routes take the same under their own 'access'.",
  },
  {
    path: 'tls.caFile',
    type: 'string',
    description:
      'PEM bundle of extra CA certificates trusted for OAC and the identity domain (e.g. a corporate TLS-inspecting proxy). Certificates are always verified.',
  },
  {
    path: 'token.refreshAheadRatio',
    type: 'number',
    default: DEFAULT_REFRESH_AHEAD_RATIO,
    minimum: 0.05,
    maximum: 0.95,
    description:
      "Share of the access token's lifetime after which it is refreshed (0.5: a 100 s token is renewed after about 50 s).",
  },
  {
    path: 'token.refreshJitterRatio',
    type: 'number',
    default: DEFAULT_REFRESH_JITTER_RATIO,
    minimum: 0,
    maximum: 0.5,
    description:
      'Random share of the lifetime by which each refresh is brought forward, so replicas do not refresh in step.',
  },
  {
    path: 'token.minLeadSeconds',
    type: 'number',
    default: DEFAULT_MIN_LEAD_SECONDS,
    minimum: 0,
    description: 'Refresh at least this long before expiry, when the lifetime allows (leaves time for retries).',
  },
  {
    path: 'token.expirySafetySeconds',
    type: 'number',
    default: DEFAULT_EXPIRY_SAFETY_SECONDS,
    minimum: 0,
    description: 'A token with less time left than this (at most a tenth of its lifetime) is never forwarded.',
  },
  {
    path: 'token.backoffInitialSeconds',
    type: 'number',
    default: DEFAULT_BACKOFF_INITIAL_SECONDS,
    minimum: 0.01,
    maximum: MAX_DURATION_SECONDS,
    description: 'First retry delay after a failed refresh; doubles each time, with jitter.',
  },
  {
    path: 'token.backoffMaxSeconds',
    type: 'number',
    default: DEFAULT_BACKOFF_MAX_SECONDS,
    minimum: 0.01,
    maximum: MAX_DURATION_SECONDS,
    description: 'Longest retry delay after failed refreshes.',
  },
  {
    path: 'token.idpTimeoutSeconds',
    type: 'number',
    default: DEFAULT_IDP_TIMEOUT_SECONDS,
    minimum: 0.1,
    maximum: MAX_DURATION_SECONDS,
    description:
      'How long callers wait for a call to the token endpoint (they get 503 token_unavailable after it), and the timeout of calls that rotate nothing (password, jwt_bearer, client_credentials, login polls).',
  },
  {
    path: 'token.refreshAnswerTimeoutSeconds',
    type: 'number',
    default: DEFAULT_REFRESH_ANSWER_TIMEOUT_SECONDS,
    minimum: 1,
    maximum: MAX_DURATION_SECONDS,
    description:
      'How long a refresh_token call is still waited for once callers have stopped waiting: the identity provider may already have rotated the refresh token, so a late answer is saved and used, and no second refresh starts meanwhile.',
  },
  {
    path: 'token.demandRetrySeconds',
    type: 'number',
    default: DEFAULT_DEMAND_RETRY_SECONDS,
    minimum: 0.1,
    maximum: MAX_DURATION_SECONDS,
    description:
      "While no usable token is held, a caller's request starts a refresh attempt at most this often (and never before a Retry-After from the identity provider), so service resumes as soon as the identity provider answers again.",
  },
  {
    path: 'token.clockJumpSeconds',
    type: 'number',
    default: DEFAULT_CLOCK_JUMP_SECONDS,
    minimum: 0.1,
    description: 'A wall-clock jump larger than this (suspend/resume) triggers an immediate refresh.',
  },
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
    description: 'Longest wait for upstream response headers, and longest pause inside a response body.',
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
  {
    path: 'login.method',
    type: 'enum',
    enum: LOGIN_METHODS,
    default: DEFAULT_LOGIN_METHOD,
    description:
      'How `oac-token-proxy login` signs in: device (a code to enter on any device) or browser (authorization code with PKCE on a loopback redirect).',
  },
  {
    path: 'login.redirectPort',
    type: 'integer',
    default: DEFAULT_REDIRECT_PORT,
    minimum: 0,
    maximum: 65535,
    description:
      'Port of the loopback redirect for browser login (0: a free port, if the app allows any loopback port). IDCS matches registered redirect URLs exactly.',
  },
  {
    path: 'login.redirectPath',
    type: 'string',
    default: DEFAULT_REDIRECT_PATH,
    description: 'Path of the loopback redirect URL for browser login (http://127.0.0.1:PORT/PATH).',
  },
  {
    path: 'login.prompt',
    type: 'enum',
    enum: LOGIN_PROMPTS,
    default: DEFAULT_LOGIN_PROMPT,
    description:
      'prompt sent with the browser login: consent asks the user to consent, without which a server following OpenID Connect Core 11 may drop offline_access and issue no refresh token; omit sends no prompt (for a server that refuses it).',
  },
  {
    path: 'login.openBrowser',
    type: 'boolean',
    default: true,
    description: 'Open the browser for browser login when possible; otherwise the URL is printed.',
  },
  {
    path: 'login.headless',
    type: 'boolean',
    default: true,
    description:
      'When serve has no usable refresh token and login.method is device, start a device login by itself: the code and link go to the log and the status page, readiness stays false until it is approved.',
  },
  {
    path: 'login.timeoutSeconds',
    type: 'number',
    default: DEFAULT_LOGIN_TIMEOUT_SECONDS,
    minimum: 1,
    maximum: MAX_DURATION_SECONDS,
    description: 'Longest wait for a login to be completed.',
  },
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
  {
    path: 'log.requests',
    type: 'boolean',
    default: true,
    description: 'Log one line per request: method, path (never the query string), status and duration.',
  },
  {
    path: 'log.format',
    type: 'enum',
    enum: LOG_FORMATS,
    default: 'auto',
    flag: 'log-format',
    description:
      'json, pretty (human-readable), or auto: pretty when the log goes to a terminal, JSON otherwise. Pretty output has colour only on a terminal and never when NO_COLOR is set.',
  },
  {
    path: 'admin.port',
    type: 'integer',
    minimum: 0,
    maximum: 65535,
    description:
      'Serve the /-/ admin endpoints on their own listener (admin.host:admin.port) instead of the proxy port; 0 picks a free port.',
  },
  {
    path: 'admin.host',
    type: 'string',
    default: DEFAULT_HOST,
    description: 'Address of the separate admin listener (only with admin.port).',
  },
  {
    path: 'admin.readyMinRemainingSeconds',
    type: 'number',
    default: DEFAULT_READY_MIN_REMAINING_SECONDS,
    minimum: 0,
    description:
      '/-/readyz answers 200 only while the OAC credential holds a token with at least this long left (at most a quarter of its lifetime).',
  },
  { path: 'log.level', type: 'enum', enum: LOG_LEVELS, default: 'info', flag: 'log-level', description: 'Log level.' },
]

/** OAC_PROXY_LISTEN_PORT for listen.port. Secrets also accept a _FILE variant. */
export function envName(path: string): string {
  return (
    ENV_PREFIX +
    path
      .replace(/\./g, '_')
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .toUpperCase()
  )
}
