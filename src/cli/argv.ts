// Shared argv helpers of the commands: strict parsing, the --config file, whole-number and log-format flags, a flag's help line.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { loadConfig } from '../config/load.js'
import { OPTIONS, type OptionSpec } from '../config/options.js'
import type { ProxyConfig } from '../config/types.js'
import { ProxyError } from '../shared/errors.js'

export type LogFormat = ProxyConfig['log']['format']

/** The parsed options of one command: strings for values, booleans for switches. */
export type Values = Record<string, string | boolean | undefined>

/** The config options that serve (and its help) accept as flags, e.g. --oac-url. */
export const FLAG_OPTIONS = OPTIONS.filter((o) => o.flag)

/** Parses a command's options strictly (every command also takes -h/--help); a mistake is a usage error. */
export function parse(args: string[], options: ParseArgsConfig['options'], command: string): { values: Values } {
  const { values } = parseStrict(args, options, command, false)
  return { values }
}

/** As parse, for a command that also takes positional arguments (import FILE). */
export function parseWithPositionals(
  args: string[],
  options: ParseArgsConfig['options'],
  command: string,
): { values: Values; positionals: string[] } {
  return parseStrict(args, options, command, true)
}

function parseStrict(
  args: string[],
  options: ParseArgsConfig['options'],
  command: string,
  allowPositionals: boolean,
): { values: Values; positionals: string[] } {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals,
    }) as { values: Values; positionals: string[] }
  } catch (err) {
    throw new ProxyError('usage', (err as Error).message, { hint: `Run oac-token-proxy help ${command}.` })
  }
}

/** The config file named by --config, else by OAC_PROXY_CONFIG. */
export function configPathOf(values: Values): string | undefined {
  return (values.config as string | undefined) ?? process.env.OAC_PROXY_CONFIG
}

/** The configuration of a one-shot command: its --config file (or OAC_PROXY_CONFIG), then the environment. */
export function configFrom(values: Values): ProxyConfig {
  const configPath = configPathOf(values)
  return loadConfig({ ...(configPath ? { configPath } : {}) })
}

export interface IntRange {
  min: number
  max: number
  unit?: string
}

export const PORT_RANGE: IntRange = { min: 0, max: 65535 }
/** The simulated access-token lifetime: long enough for the proxy's safety margin and refresh lead. */
export const TOKEN_LIFETIME_RANGE: IntRange = { min: 10, max: 86400, unit: 'seconds' }

/** A whole-number flag within its range; absent gives the fallback, anything else is a usage error naming the flag. */
export function intFlag(
  raw: unknown,
  name: string,
  fallback: number,
  range: IntRange = { min: 0, max: 2 ** 31 - 1 },
): number {
  if (raw === undefined) return fallback
  const n = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new ProxyError(
      'usage',
      `${name} must be a whole number from ${range.min} to ${range.max}${range.unit ? ` (${range.unit})` : ''}, got '${String(raw)}'`,
      { hint: `For example ${name} ${Math.min(range.max, Math.max(range.min, fallback))}.` },
    )
  }
  return n
}

/** --log-format: auto, json or pretty; absent is undefined (the command decides). */
export function logFormatFlag(raw: unknown): LogFormat | undefined {
  if (raw === undefined) return undefined
  if (raw === 'auto' || raw === 'json' || raw === 'pretty') return raw
  throw new ProxyError('usage', `--log-format must be auto, json or pretty, got '${String(raw)}'`)
}

/** The placeholder shown after a flag in help: --oac-url URL, --port N, --log-format auto|json|pretty. */
function valueName(o: OptionSpec): string {
  if (o.type === 'url') return 'URL'
  if (o.type === 'integer' || o.type === 'number') return 'N'
  if (o.type === 'enum' && o.enum && o.enum.length <= 3) return o.enum.join('|')
  return (o.flag as string).split('-').at(-1)?.toUpperCase() ?? 'VALUE'
}

/** One line of serve's help: the flag, its value name, the config key it sets and its default. */
export function flagHelp(o: OptionSpec): string {
  const left = `      --${o.flag as string} ${valueName(o)}`
  const dflt = o.default === undefined || o.default === '' ? '' : ` (default ${String(o.default)})`
  return `${left.padEnd(40)}${o.path}${dflt}`
}
