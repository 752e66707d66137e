// Options of the /-/ admin endpoints: their own listener and the readiness threshold.
import { DEFAULT_HOST } from './listen.js'
import type { OptionSpec } from './spec.js'

export const DEFAULT_READY_MIN_REMAINING_SECONDS = 10

/** Where the admin endpoints listen and when the proxy reports ready. */
export const ADMIN_OPTIONS: readonly OptionSpec[] = [
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
]
