// The pino logger: JSON lines, noun.verb events, secrets redacted by path and by serializer.
import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino'
import { createRequire } from 'node:module'
import { sanitizeDescription } from './errors.js'

export type { Logger }

export const DEFAULT_LOG_LEVEL: LevelWithSilent = 'info'

/** Paths whose values are never written, whatever the log call passes. */
export const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'headers["proxy-authorization"]',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.authorization',
  'accessToken',
  'refreshToken',
  'clientSecret',
  'idToken',
  'password',
  'access_token',
  'refresh_token',
  'client_secret',
  'client_assertion',
  'id_token',
  '*.accessToken',
  '*.refreshToken',
  '*.clientSecret',
  '*.idToken',
  '*.password',
  '*.access_token',
  '*.refresh_token',
  '*.client_secret',
  '*.client_assertion',
  '*.id_token',
  'adminKey',
  'privateKey',
  'assertion',
  'device_code',
  'deviceCode',
  '*.adminKey',
  '*.privateKey',
  '*.assertion',
  '*.device_code',
  '*.deviceCode',
]

/**
 * A message that is never written: Fastify's own "Server listening at" line is given this text
 * (listenTextResolver) because proxy.listening already says where the proxy listens.
 */
export const UNLOGGED_MESSAGE = '\u0000unlogged'

export interface LoggerOptions {
  level?: LevelWithSilent
  destination?: DestinationStream
  /** Human-readable lines (pino-pretty) instead of JSON; for terminals. */
  pretty?: boolean
  /** Where lines go without a `destination`: 1 stdout (serve), 2 stderr (one-shot commands, demo). Default 1. */
  fd?: 1 | 2
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const fd = options.fd ?? 1
  return pino(
    {
      name: 'oac-token-proxy',
      level: options.level ?? DEFAULT_LOG_LEVEL,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method) {
          if (args.length === 1 && args[0] === UNLOGGED_MESSAGE) return
          method.apply(this, args)
        },
      },
    },
    options.destination ??
      (options.pretty ? prettyStream(fd) : pino.destination({ dest: fd, sync: fd === 2 ? true : false })),
  )
}

/** pino-pretty is loaded only for terminals: a container never pays for it. */
function prettyStream(fd: 1 | 2): DestinationStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as (o: Record<string, unknown>) => DestinationStream
  return pretty({
    colorize: colorEnabled(fd === 2 ? process.stderr : process.stdout),
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname,name',
    destination: fd,
    sync: true,
  })
}

/**
 * Colour only on a terminal, and never when NO_COLOR is set to a non-empty value (no-color.org) or TERM
 * is dumb: a pipe or a file never receives escape codes.
 */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (env.TERM === 'dumb') return false
  return stream.isTTY === true
}

/** `auto` means pretty on a terminal, JSON otherwise (containers, files, log shippers). */
export function wantsPretty(format: 'auto' | 'json' | 'pretty', isTTY = Boolean(process.stdout.isTTY)): boolean {
  return format === 'pretty' || (format === 'auto' && isTTY)
}

/**
 * Errors are logged by type, code, message and the codes along the cause
 * chain. Stacks only for unexpected errors. Never a raw response body.
 */
export function serializeError(err: unknown, depth = 0): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: sanitizeDescription(String(err)) }
  const out: Record<string, unknown> = {
    type: err.name,
    message: sanitizeDescription(err.message),
  }
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' || typeof code === 'number') out.code = code
  const hint = (err as { hint?: unknown }).hint
  if (typeof hint === 'string') out.hint = hint
  if (code === undefined && err.stack) out.stack = sanitizeDescription(err.stack.split('\n').slice(0, 6).join(' | '))
  if (err.cause !== undefined && depth < 3) out.cause = serializeError(err.cause, depth + 1)
  return out
}
