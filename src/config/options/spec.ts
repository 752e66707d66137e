// What an option of the configuration table is: its type, default, environment variable and flag.

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

/** Longest duration any option accepts (Node timers cannot wait longer than about 24.8 days). */
export const MAX_DURATION_SECONDS = 86_400

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
