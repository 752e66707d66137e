// Merges the sources of settings in order: the file, then OAC_PROXY_* environment variables, then flags.
import { ProxyError } from '../shared/errors.js'
import { ENV_PREFIX, envName, OPTIONS, type OptionSpec } from './options.js'
import { distance } from './problems.js'
import { flatten, setPath, type Tree } from './tree.js'

export interface Sources {
  /** The file's tree and its resolved path, when a file was given. */
  fromFile?: { tree: Tree; path: string } | undefined
  env: NodeJS.ProcessEnv
  /** Flag values by option path, as typed on the command line. */
  flags: Record<string, string>
}

export interface Merged {
  tree: Tree
  /** Where each option path was set last: the file path, `env NAME` or `flag --name`. */
  origins: Map<string, string>
  /** OAC_PROXY_* variables that no option reads. */
  envProblems: string[]
}

/** Later sources override earlier ones key by key. Throws a usage error for a flag naming no option. */
export function mergeSources({ fromFile, env, flags }: Sources): Merged {
  const origins = new Map<string, string>()
  const tree: Tree = {}
  if (fromFile) {
    for (const [path, value] of flatten(fromFile.tree)) {
      setPath(tree, path, value)
      origins.set(path, fromFile.path)
    }
  }
  const envProblems = unknownEnvNames(env)
  for (const spec of OPTIONS.filter((o) => !o.noEnv)) {
    const name = envName(spec.path)
    if (env[name] !== undefined && env[name] !== '') {
      setPath(tree, spec.path, coerce(spec, env[name], 'value'))
      origins.set(spec.path, `env ${name}`)
    }
    if (spec.type === 'secret' && env[`${name}_FILE`]) {
      setPath(tree, spec.path, { file: env[`${name}_FILE`] })
      origins.set(spec.path, `env ${name}_FILE`)
    }
  }
  for (const [path, raw] of Object.entries(flags)) {
    const spec = OPTIONS.find((o) => o.path === path)
    if (!spec) throw new ProxyError('usage', `unknown option ${path}`)
    setPath(tree, path, coerce(spec, raw, 'value'))
    origins.set(path, `flag --${spec.flag ?? path}`)
  }
  return { tree, origins, envProblems }
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
