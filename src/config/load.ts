// Loads the configuration: YAML file, then OAC_PROXY_* environment variables, then flags; validates once.
import { dirname, resolve } from 'node:path'
import { ProxyError } from '../shared/errors.js'
import { buildConfig, type ResolvedParts } from './build.js'
import { resolveCredentials, resolveRoutes } from './credentials.js'
import { configError, NO_FILE } from './problems.js'
import { checkExposure, readCaFile, resolveSecurity } from './security.js'
import { mergeSources } from './sources.js'
import { resolveStore } from './store.js'
import { readerOf, type Tree } from './tree.js'
import type { ProxyConfig } from './types.js'
import { checkUrls, shapeProblems } from './validate.js'
import { readYaml } from './yaml-file.js'

export interface LoadOptions {
  /** Path of the YAML file; none means env and flags only. */
  configPath?: string
  env?: NodeJS.ProcessEnv
  /** Flag values by option path, as typed on the command line. */
  flags?: Record<string, string>
  cwd?: string
}

/** Loads, merges, validates and resolves secrets. Throws one ProxyError listing every problem. */
export function loadConfig(options: LoadOptions = {}): ProxyConfig {
  const env = options.env ?? process.env
  const cwd = options.cwd ?? process.cwd()
  const configPath = options.configPath ? resolve(cwd, options.configPath) : undefined
  const fromFile = configPath ? { tree: readYaml(configPath), path: configPath } : undefined
  const { tree, origins, envProblems } = mergeSources({ fromFile, env, flags: options.flags ?? {} })

  const where = (key: string): string => origins.get(key) ?? (configPath ? configPath : NO_FILE)
  const problems = shapeProblems(tree, configPath, where)
  problems.push(...envProblems)
  // the shape must be right before the checks between keys can run
  if (problems.length > 0) throw configError(problems, configPath)
  problems.push(...checkUrls(tree, where))

  const baseDir = configPath ? dirname(configPath) : cwd
  const parts = resolveParts(tree, { configPath, baseDir, env, where, problems })
  return buildConfig(readerOf(tree), parts)
}

interface ResolveContext {
  configPath: string | undefined
  baseDir: string
  env: NodeJS.ProcessEnv
  where: (key: string) => string
  /** Problems found so far (URLs); the resolve step adds its own and throws if there are any. */
  problems: string[]
}

/** Resolves secrets, keys, credentials, routes, security and listeners; throws every problem found at once. */
function resolveParts(tree: Tree, { configPath, baseDir, env, where, problems }: ResolveContext): ResolvedParts {
  const value = readerOf(tree)
  const secretProblems: string[] = []
  const warnings: string[] = []
  const permissions = value<'refuse' | 'warn'>('security.secretFilePermissions')
  const ctx = { baseDir, env, where, problems, secretProblems, permissions, warnings, configFile: configPath }
  const credentials = resolveCredentials(tree, ctx)
  const routes = resolveRoutes(tree, credentials, ctx)
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
  const store = resolveStore(tree, value, { ...ctx, where })
  if (problems.length > 0) {
    if (problems.length === secretProblems.length) {
      throw new ProxyError('secret_unreadable', problems.join('\n'), {
        hint: 'Check that each secret file exists and is readable, and each named environment variable is set.',
      })
    }
    throw configError(problems, configPath)
  }
  return { configPath, baseDir, credentials, routes, security, listen, tlsCa, store, warnings }
}
