// The table of every configuration option, in the order of docs/configuration.md, assembled from options/ by section.
import { ADMIN_OPTIONS } from './options/admin.js'
import { CREDENTIAL_OPTIONS } from './options/credential.js'
import { LISTEN_OPTIONS } from './options/listen.js'
import { LOG_LEVEL_OPTION, LOG_OUTPUT_OPTIONS } from './options/log.js'
import { LOGIN_OPTIONS } from './options/login.js'
import { SECURITY_OPTIONS } from './options/security.js'
import type { OptionSpec } from './options/spec.js'
import { STATE_FILE_OPTION, TOKEN_OPTIONS } from './options/token.js'
import { STORE_OPTIONS } from './options/store.js'
import { OAC_URL_OPTION, PROXY_OPTIONS, ROUTING_OPTIONS } from './options/upstream.js'

export * from './options/admin.js'
export * from './options/credential.js'
export * from './options/listen.js'
export * from './options/log.js'
export * from './options/login.js'
export * from './options/security.js'
export * from './options/spec.js'
export * from './options/token.js'
export * from './options/store.js'
export * from './options/upstream.js'

export const OPTIONS: readonly OptionSpec[] = [
  OAC_URL_OPTION,
  ...CREDENTIAL_OPTIONS,
  STATE_FILE_OPTION,
  ...STORE_OPTIONS,
  ...LISTEN_OPTIONS,
  ...SECURITY_OPTIONS,
  ...TOKEN_OPTIONS,
  ...PROXY_OPTIONS,
  ...LOGIN_OPTIONS,
  ...ROUTING_OPTIONS,
  ...LOG_OUTPUT_OPTIONS,
  ...ADMIN_OPTIONS,
  LOG_LEVEL_OPTION,
]
