// The configuration error: every problem listed, the sources to blame named in the hint, and did-you-mean suggestions.
import { ProxyError } from '../shared/errors.js'
import { ENV_PREFIX, envName, OPTIONS } from './options.js'

/** The origin of a key no source set, when no file was given. */
export const NO_FILE = 'no config file was given'

export function configError(problems: string[], configPath: string | undefined): ProxyError {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`
  const noFile = problems.length === 1 && problems[0]?.startsWith(NO_FILE)
  return new ProxyError('config_invalid', `configuration has ${count}:\n  - ${problems.join('\n  - ')}`, {
    hint: noFile
      ? 'Pass --config FILE with a config written from config.example.yaml; docs/configuration.md lists every key and variable.'
      : `Fix ${blame(problems, configPath)} (see config.example.yaml and docs/configuration.md).`,
  })
}

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
export function noConfigProblem(keys: string[]): string {
  return (
    `no config file was given and ${keys.join(', ')} ${keys.length === 1 ? 'is' : 'are'} not set: ` +
    `pass --config FILE (or set ${ENV_PREFIX}CONFIG=FILE), or set ${keys.map(envName).join(', ')}`
  )
}

export function didYouMean(key: string): string {
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

/** Levenshtein distance between two strings. */
export function distance(a: string, b: string): number {
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
