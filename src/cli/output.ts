// What the commands write: human lines on stdout, logs of one-shot commands on stderr.
import type { ProxyConfig } from '../config/types.js'
import { createLogger, wantsPretty, type Logger } from '../shared/log.js'
import type { LogFormat } from './argv.js'

/** One human-facing line on stdout. */
export function out(line: string): void {
  process.stdout.write(line + '\n')
}

/** Logs of one-shot commands go to stderr, so stdout stays clean for scripts. */
export function stderrLogger(level: ProxyConfig['log']['level'] = 'warn', format: LogFormat = 'auto'): Logger {
  return createLogger({ level, fd: 2, pretty: wantsPretty(format, Boolean(process.stderr.isTTY)) })
}
