// Options of the token lifecycle: where the refresh token is kept, when tokens are refreshed, how failures back off.
import { MAX_DURATION_SECONDS, type OptionSpec } from './spec.js'

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

/** Where the newest refresh token is kept. */
export const STATE_FILE_OPTION: OptionSpec = {
  path: 'stateFile',
  type: 'string',
  default: DEFAULT_STATE_FILE,
  flag: 'state-file',
  description: 'Where the newest refresh token is kept (mode 0600). Relative paths are relative to the config file.',
}

/** When access tokens are refreshed and how long calls to the identity provider are waited for. */
export const TOKEN_OPTIONS: readonly OptionSpec[] = [
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
]
