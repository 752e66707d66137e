// Options of the log: request lines, format and level.
import type { OptionSpec } from './spec.js'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const

/** What is logged per request and in which format. */
export const LOG_OUTPUT_OPTIONS: readonly OptionSpec[] = [
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
]

/** The log level (last in the table). */
export const LOG_LEVEL_OPTION: OptionSpec = {
  path: 'log.level',
  type: 'enum',
  enum: LOG_LEVELS,
  default: 'info',
  flag: 'log-level',
  description: 'Log level.',
}
