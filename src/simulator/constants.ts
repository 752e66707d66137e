// Default values and fixed names of the simulated IDCS + OAC pair.

export const DEFAULT_ACCESS_TOKEN_LIFETIME_S = 100
export const DEFAULT_REFRESH_TOKEN_LIFETIME_S = 7 * 24 * 3600
export const SIM_AUDIENCE = 'https://simhash0001.analytics.ocp.oraclecloud.com'
export const SIM_OAC_SCOPE = 'urn:opc:resource:consumer::all'
export const SIM_SCOPE = SIM_AUDIENCE + SIM_OAC_SCOPE + ' offline_access'
export const SIM_APP_NAME = 'ANALYTICSINST_simhash0001'
export const SIM_ISSUER = 'https://identity.oraclecloud.com/'
export const SIM_KEY_ID = 'SIGNING_KEY'

export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_CLIENT_ID = 'oac-sim-client'
export const DEFAULT_PUBLIC_CLIENT_ID = 'oac-sim-public'
export const DEFAULT_USER = 'analyst@example.com'

/** Work requests: IN_PROGRESS this long after acceptance, SUCCEEDED after the second value. */
export const WORK_REQUEST_START_MS = 1000
export const WORK_REQUEST_FINISH_MS = 3000

export const DEFAULT_DOWNLOAD_BYTES = 1024 * 1024
export const MAX_DOWNLOAD_BYTES = 2 * 1024 * 1024 * 1024
export const DOWNLOAD_CHUNK_BYTES = 64 * 1024

/** Largest form or JSON body the simulator reads into memory. */
export const MAX_SMALL_BODY_BYTES = 64 * 1024

export const API_PREFIX = '/api/20210901/'

export const DEFAULT_USER_PASSWORD = 'Welcome-1234!'
export const FEDERATED_USER = 'federated@example.com'
/** The IDCS admin scope; tokens carrying it are for the domain's own REST APIs (aud = the IDCS URL). */
export const IDCS_ADMIN_SCOPE = 'urn:opc:idm:__myscopes__'

/** Device flow (RFC 8628): code lifetime, the minimum polling interval, and what slow_down adds. */
export const DEFAULT_DEVICE_CODE_LIFETIME_S = 600
export const MIN_DEVICE_INTERVAL_S = 5
export const SLOW_DOWN_STEP_S = 5

/** Authorization codes are single use and live this long. */
export const AUTH_CODE_LIFETIME_S = 60
export const DEFAULT_REDIRECT_URIS: readonly string[] = ['http://127.0.0.1/callback']

/** JWT assertions: how far in the future `iat` may be, and the fixed IDCS audience. */
export const ASSERTION_IAT_SKEW_S = 60
export const IDCS_ASSERTION_AUDIENCE = 'https://identity.oraclecloud.com/'

export const GRANT_REFRESH_TOKEN = 'refresh_token'
export const GRANT_DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code'
export const GRANT_AUTHORIZATION_CODE = 'authorization_code'
export const GRANT_PASSWORD = 'password'
export const GRANT_JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
export const GRANT_CLIENT_CREDENTIALS = 'client_credentials'
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** The one application the simulated IDCS admin API lists. */
export const SIM_ADMIN_APP_ID = 'oac-sim-app'
export const SIM_ADMIN_APP_NAME = 'OAC Simulator'
