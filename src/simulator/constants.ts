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
