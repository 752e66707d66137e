// Loads the configuration: YAML file, then OAC_PROXY_* environment variables, then flags; validates once.
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { LineCounter, parseDocument, visit, type Alias, type Document } from 'yaml'
import { ProxyError } from '../shared/errors.js'
import { Secret } from '../shared/secret.js'
import { DEFAULT_CREDENTIAL, ENV_PREFIX, envName, OPTIONS, type OptionSpec } from './options.js'
import { checkSchema } from './schema.js'
import { resolveCredentials, resolveRoutes } from './credentials.js'
import { checkExposure, readCaFile, resolveSecurity } from './security.js'
import type { CredentialConfig, LoginSettings, ProxyConfig } from './types.js'

export interface LoadOptions {
  /** Path of the YAML file; none means env and flags only. */
  configPath?: string
  env?: NodeJS.ProcessEnv
  /** Flag values by option path, as typed on the command line. */
  flags?: Record<string, string>
  cwd?: string
}

type Tree = Record<string, unknown>

/** Loads, merges, validates and resolves secrets. Throws one ProxyError listing every problem. */
export function loadConfig(options: LoadOptions = {}): ProxyConfig {
  const env = options.env ?? process.env
  const cwd = options.cwd ?? process.cwd()
  const configPath = options.configPath ? resolve(cwd, options.configPath) : undefined
  const origins = new Map<string, string>()
  const merged: Tree = {}

  if (configPath) {
    const fromFile = readYaml(configPath)
    for (const [path, value] of flatten(fromFile)) {
      setPath(merged, path, value)
      origins.set(path, configPath)
    }
  }
  const envProblems = unknownEnvNames(env)
  for (const spec of OPTIONS.filter((o) => !o.noEnv)) {
    const name = envName(spec.path)
    if (env[name] !== undefined && env[name] !== '') {
      setPath(merged, spec.path, coerce(spec, env[name], 'value'))
      origins.set(spec.path, `env ${name}`)
    }
    if (spec.type === 'secret' && env[`${name}_FILE`]) {
      setPath(merged, spec.path, { file: env[`${name}_FILE`] })
      origins.set(spec.path, `env ${name}_FILE`)
    }
  }
  for (const [path, raw] of Object.entries(options.flags ?? {})) {
    const spec = OPTIONS.find((o) => o.path === path)
    if (!spec) throw new ProxyError('usage', `unknown option ${path}`)
    setPath(merged, path, coerce(spec, raw, 'value'))
    origins.set(path, `flag --${spec.flag ?? path}`)
  }

  const where = (key: string): string => origins.get(key) ?? (configPath ? configPath : NO_FILE)
  const schemaProblems = checkSchema(merged)
  const missing = schemaProblems.filter((p) => p.problem === 'is required' && !p.key.includes('.'))
  // without a file, settings that were never given are one problem: say how to give them
  const summarise = configPath === undefined && missing.length > 0
  const problems = summarise ? [noConfigProblem(missing.map((p) => p.key))] : []
  for (const { key, problem } of schemaProblems) {
    if (summarise && missing.some((p) => p.key === key)) continue
    const suggestion = problem === 'unknown key' ? didYouMean(key) : ''
    problems.push(
      `${key || '(root)'} ${problem === 'unknown key' ? 'is an unknown key' : problem}${suggestion} (${where(key)})`,
    )
  }
  problems.push(...envProblems)
  // the shape must be right before the checks between keys can run
  if (problems.length > 0) throw configError(problems, configPath)
  problems.push(...checkUrls(merged, where))

  const baseDir = configPath ? dirname(configPath) : cwd
  const value = <T>(path: string): T => {
    const v = getPath(merged, path)
    if (v !== undefined) return v as T
    return OPTIONS.find((o) => o.path === path)?.default as T
  }
  const seconds = (path: string): number => Math.round(value<number>(path) * 1000)
  const secretProblems: string[] = []
  const warnings: string[] = []
  const permissions = value<'refuse' | 'warn'>('security.secretFilePermissions')
  const ctx = { baseDir, env, where, problems, secretProblems, permissions, warnings, configFile: configPath }
  const credentials = resolveCredentials(merged, ctx)
  const routes = resolveRoutes(merged, credentials, ctx)
  const security = resolveSecurity(value, ctx, where)
  const listen = {
    host: value<string>('listen.host'),
    port: value<number>('listen.port'),
    tcp: value<boolean>('listen.tcp'),
    socket: value<string | undefined>('listen.socket') && resolve(baseDir, value<string>('listen.socket')),
    socketMode: parseInt(value<string>('listen.socketMode'), 8),
  }
  checkExposure(listen, security, where, problems, warnings)
  const tlsCa = readCaFile(value<string | undefined>('tls.caFile'), baseDir, where, problems)
  if (problems.length > 0) {
    if (problems.length === secretProblems.length) {
      throw new ProxyError('secret_unreadable', problems.join('\n'), {
        hint: 'Check that each secret file exists and is readable, and each named environment variable is set.',
      })
    }
    throw configError(problems, configPath)
  }
  const byName = (n: string): CredentialConfig => credentials.find((c) => c.name === n) as CredentialConfig
  const main = byName(DEFAULT_CREDENTIAL)

  const config: ProxyConfig = {
    ...(configPath === undefined ? {} : { sourceFile: configPath }),
    oacUrl: stripSlash(value<string>('oacUrl')),
    idcsUrl: stripSlash(value<string>('idcsUrl')),
    clientId: value<string>('clientId'),
    clientSecret: main.clientSecret,
    scope: value<string>('scope'),
    refreshToken: main.refreshToken,
    stateFile: resolve(baseDir, value<string>('stateFile')),
    credentials,
    routes,
    login: {
      method: value<LoginSettings['method']>('login.method'),
      headless: value<boolean>('login.headless'),
      redirectPort: value<number>('login.redirectPort'),
      redirectPath: value<string>('login.redirectPath'),
      openBrowser: value<boolean>('login.openBrowser'),
      prompt: value<LoginSettings['prompt']>('login.prompt'),
      timeoutMs: seconds('login.timeoutSeconds'),
    },
    listen,
    security,
    tls: { ca: tlsCa },
    warnings,
    token: {
      refreshAheadRatio: value<number>('token.refreshAheadRatio'),
      refreshJitterRatio: value<number>('token.refreshJitterRatio'),
      minLeadMs: seconds('token.minLeadSeconds'),
      expirySafetyMs: seconds('token.expirySafetySeconds'),
      backoffInitialMs: seconds('token.backoffInitialSeconds'),
      backoffMaxMs: seconds('token.backoffMaxSeconds'),
      idpTimeoutMs: seconds('token.idpTimeoutSeconds'),
      refreshAnswerTimeoutMs: seconds('token.refreshAnswerTimeoutSeconds'),
      demandRetryMs: seconds('token.demandRetrySeconds'),
      clockJumpMs: seconds('token.clockJumpSeconds'),
    },
    proxy: {
      replayBodyLimitBytes: value<number>('proxy.replayBodyLimitBytes'),
      connectTimeoutMs: seconds('proxy.connectTimeoutSeconds'),
      upstreamTimeoutMs: seconds('proxy.upstreamTimeoutSeconds'),
      connections: value<number>('proxy.connections'),
      queueTimeoutMs: seconds('proxy.queueTimeoutSeconds'),
      shutdownGraceMs: seconds('proxy.shutdownGraceSeconds'),
    },
    log: {
      level: value<ProxyConfig['log']['level']>('log.level'),
      requests: value<boolean>('log.requests'),
      format: value<ProxyConfig['log']['format']>('log.format'),
    },
    admin: {
      port: value<number | undefined>('admin.port'),
      host: value<string>('admin.host'),
      readyMinRemainingMs: seconds('admin.readyMinRemainingSeconds'),
    },
  }
  return deepFreeze(config)
}

function readYaml(path: string): Tree {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new ProxyError('config_unreadable', `cannot read config file ${path} (${code ?? 'error'})`, {
      cause: err,
      hint: 'Check the path given to --config (or OAC_PROXY_CONFIG) and its permissions.',
    })
  }
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, lineCounter })
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      const pos = e.linePos?.[0]
      const message = (e.message.split('\n')[0] as string).replace(/ at line \d+, column \d+:?$/, '')
      return `${path}${pos ? `:${pos.line}:${pos.col}` : ''}: ${message}${pos ? '\n' + excerpt(text, pos) : ''}`
    })
    throw new ProxyError('config_unreadable', `config file is not valid YAML:\n${lines.join('\n')}`, {
      hint: 'Fix the YAML syntax at the position shown (indentation, quotes, duplicate keys).',
    })
  }
  let data: unknown
  try {
    // aliases are resolved here: an unknown anchor or an alias bomb is a config error, not a crash
    data = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    const at = aliasPosition(doc, lineCounter)
    throw new ProxyError(
      'config_unreadable',
      `config file is not valid YAML:\n${path}${at}: ${(err as Error).message.split('\n')[0]}`,
      {
        hint:
          'Fix the YAML anchors and aliases: an alias must refer to an anchor defined before it, ' +
          'and a config needs far fewer than 100 of them.',
      },
    )
  }
  if (data === null || data === undefined) return {}
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ProxyError('config_invalid', `${path}: the top level must be a mapping of keys to values`, {
      hint: 'See config.example.yaml for the expected shape.',
    })
  }
  return data as Tree
}

/** `:line:col` of the first alias that does not resolve (else of the first alias), or '' without one. */
function aliasPosition(doc: Document, lineCounter: LineCounter): string {
  let unresolved: Alias | undefined
  let first: Alias | undefined
  visit(doc, {
    Alias(_key, node) {
      first ??= node
      if (!unresolved && node.resolve(doc) === undefined) unresolved = node
    },
  })
  const offset = (unresolved ?? first)?.range?.[0]
  if (offset === undefined) return ''
  const pos = lineCounter.linePos(offset)
  return `:${pos.line}:${pos.col}`
}

/** Leaves by dotted path; secret objects ({env|file|value}) count as leaves. */
function flatten(tree: Tree, prefix = ''): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = []
  for (const [k, v] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${k}` : k
    const spec = OPTIONS.find((o) => o.path === path)
    const isBranch = v !== null && typeof v === 'object' && !Array.isArray(v) && spec === undefined
    if (isBranch && OPTIONS.some((o) => o.path.startsWith(`${path}.`))) out.push(...flatten(v as Tree, path))
    else out.push([path, v])
  }
  return out
}

function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.')
  let node = tree
  for (const part of parts.slice(0, -1)) {
    const next = node[part]
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[part] = {}
    node = node[part] as Tree
  }
  node[parts[parts.length - 1] as string] = value
}

function getPath(tree: Tree, path: string): unknown {
  let node: unknown = tree
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Tree)[part]
  }
  return node
}

/** Strings from env and flags become the option's type; unparsable values stay strings so the schema names them. */
function coerce(spec: OptionSpec, raw: string | undefined, secretField: 'value'): unknown {
  if (raw === undefined) return undefined
  switch (spec.type) {
    case 'integer':
    case 'number': {
      const n = Number(raw)
      return raw.trim() !== '' && Number.isFinite(n) ? n : raw
    }
    case 'boolean':
      return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw
    case 'secret':
      return { [secretField]: raw }
    case 'stringList':
      return raw
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    default:
      return raw
  }
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

function checkUrls(tree: Tree, where: (key: string) => string): string[] {
  const problems: string[] = []
  const urls: Array<[string, unknown, string]> = OPTIONS.filter((o) => o.type === 'url').map((o) => [
    o.path,
    getPath(tree, o.path),
    where(o.path),
  ])
  for (const [name, entry] of Object.entries((tree.credentials ?? {}) as Record<string, Tree>)) {
    urls.push([`credentials.${name}.idcsUrl`, entry.idcsUrl, where('credentials')])
  }
  ;((tree.routes ?? []) as Tree[]).forEach((r, i) => urls.push([`routes.${i}.upstream`, r.upstream, where('routes')]))
  for (const [path, raw, origin] of urls) {
    if (typeof raw !== 'string') continue
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      problems.push(`${path} is not a valid URL: expected https://host[:port] (${origin})`)
      continue
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      problems.push(`${path} must start with https:// (${origin})`)
    } else if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
      problems.push(`${path} must use https:// (plain http is only allowed to loopback hosts) (${origin})`)
    } else if (url.search || url.hash || url.username || url.password) {
      problems.push(`${path} must not contain a query, fragment or credentials (${origin})`)
    }
  }
  return problems
}

function didYouMean(key: string): string {
  const parts = key.split('.')
  const leaf = parts.pop() as string
  const parent = parts.join('.')
  const siblings = new Set(
    OPTIONS.map((o) => o.path)
      .filter((p) => (parent ? p.startsWith(`${parent}.`) : true))
      .map((p) => p.slice(parent ? parent.length + 1 : 0).split('.')[0] as string),
  )
  let best: string | undefined
  let bestDistance = 3
  for (const s of siblings) {
    const d = distance(leaf.toLowerCase(), s.toLowerCase())
    if (d < bestDistance) {
      best = s
      bestDistance = d
    }
  }
  return best ? ` (did you mean '${parent ? `${parent}.` : ''}${best}'?)` : ''
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return row[b.length] as number
}

function configError(problems: string[], configPath: string | undefined): ProxyError {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`
  const noFile = problems.length === 1 && problems[0]?.startsWith(NO_FILE)
  return new ProxyError('config_invalid', `configuration has ${count}:\n  - ${problems.join('\n  - ')}`, {
    hint: noFile
      ? 'Pass --config FILE with a config written from config.example.yaml; docs/configuration.md lists every key and variable.'
      : `Fix ${blame(problems, configPath)} (see config.example.yaml and docs/configuration.md).`,
  })
}

const NO_FILE = 'no config file was given'

/** Where the problems came from, as the hint names it: the file, an environment variable or a flag. */
function blame(problems: string[], configPath: string | undefined): string {
  const sources = new Set<string>()
  for (const p of problems) {
    const origin = /\(([^()]+)\)$/.exec(p)?.[1]
    if (origin?.startsWith('env ')) sources.add(`the environment variable ${origin.slice(4)}`)
    else if (origin?.startsWith('flag ')) sources.add(`the flag ${origin.slice(5)}`)
    else if (origin === NO_FILE || origin === undefined) sources.add(configPath ?? 'the settings')
    else sources.add(origin)
  }
  const list = [...sources]
  return list.length === 1 ? (list[0] as string) : `${list.slice(0, -1).join(', ')} and ${list.at(-1) as string}`
}

/** The one problem shown when required settings are missing and no file was given. */
function noConfigProblem(keys: string[]): string {
  return (
    `no config file was given and ${keys.join(', ')} ${keys.length === 1 ? 'is' : 'are'} not set: ` +
    `pass --config FILE (or set ${ENV_PREFIX}CONFIG=FILE), or set ${keys.map(envName).join(', ')}`
  )
}

/** Variables that are not options of this program but are read by it. */
const OTHER_ENV_NAMES = new Set([`${ENV_PREFIX}CONFIG`])

/** Every OAC_PROXY_* variable that no option reads: a typo would otherwise be silently ignored. */
function unknownEnvNames(env: NodeJS.ProcessEnv): string[] {
  const known = new Set(OTHER_ENV_NAMES)
  for (const spec of OPTIONS.filter((o) => !o.noEnv)) {
    known.add(envName(spec.path))
    if (spec.type === 'secret') known.add(`${envName(spec.path)}_FILE`)
  }
  const problems: string[] = []
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX) || known.has(name)) continue
    let best: string | undefined
    let bestDistance = 4
    for (const k of known) {
      const d = distance(name, k)
      if (d < bestDistance) [best, bestDistance] = [k, d]
    }
    const suggestion = best ? ` (did you mean ${best}?)` : ' (see docs/configuration.md for the variables)'
    problems.push(`${name} is not a known variable${suggestion} (env ${name})`)
  }
  return problems
}

/** The offending line of a YAML file and the one before it, with a caret under the column; secret-looking values masked. */
function excerpt(text: string, pos: { line: number; col: number }): string {
  const lines = text.split(/\r?\n/)
  const out: string[] = []
  const width = String(pos.line).length
  for (let n = Math.max(1, pos.line - 1); n <= pos.line; n++) {
    out.push(`  ${String(n).padStart(width)} | ${maskLine(lines[n - 1] ?? '')}`)
  }
  out.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, pos.col - 1))}^`)
  return out.join('\n')
}

const SECRET_KEYS = new Set(OPTIONS.filter((o) => o.type === 'secret').map((o) => o.path.split('.').at(-1)))

/** Hides a secret key's inline value and any long token-like run, keeping the columns where they are. */
function maskLine(line: string): string {
  const keyed = /^(\s*-?\s*["']?)([A-Za-z]+)(["']?\s*:\s*)(.*)$/.exec(line)
  let out = line
  if (keyed && SECRET_KEYS.has(keyed[2]) && !/^\{/.test(keyed[4] as string)) {
    out = `${keyed[1]}${keyed[2]}${keyed[3]}${(keyed[4] as string).replace(/\S/g, '*')}`
  }
  return out.replace(/[A-Za-z0-9_\-=+/]{32,}/g, (run) => '*'.repeat(run.length))
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '')
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Secret)) {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
