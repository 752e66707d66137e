// Checks the merged tree before anything is resolved: its shape against the schema, then every URL.
import { OPTIONS } from './options.js'
import { didYouMean, noConfigProblem } from './problems.js'
import { checkSchema } from './schema.js'
import { getPath, type Tree } from './tree.js'

/** Schema problems, each naming its key and where it was set; without a file, missing settings are one problem. */
export function shapeProblems(tree: Tree, configPath: string | undefined, where: (key: string) => string): string[] {
  const schemaProblems = checkSchema(tree)
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
  return problems
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

/** Every URL option, credential idcsUrl and route upstream must be https (http only to loopback), without extras. */
export function checkUrls(tree: Tree, where: (key: string) => string): string[] {
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
