// Reliability part 4: bad configurations, each refused by the built CLI with exit 2 naming the key, nothing written.
import { execFile } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import t, { type Test } from 'tap'
import { stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { CLI } from '../helpers.js'
import { bump, histogram, LONG, partSkipped, report, SUITE_TIMEOUT_MS } from './helpers.js'
import { baseConfig, baseLines, secretValue, type BadConfig } from './support/bad-config-base.js'
import { badConfigCases } from './support/bad-config-cases.js'

interface CliResult {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
}

/**
 * `node dist/cli.js serve --config FILE` as a user runs it. tap puts its process-tracking loader into the
 * NODE_OPTIONS of every child it sees spawned; `env -u` takes it out again (it doubles the start-up time).
 */
function runCli(configPath: string, cwd: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      'env',
      ['-u', 'NODE_OPTIONS', process.execPath, CLI, 'serve', '--config', configPath],
      { cwd, env: { PATH: process.env.PATH ?? '' }, timeout: 10_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: unknown; signal?: string | null }) | null
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr,
        })
      },
    )
    child.stdin?.end()
  })
}

/** Every path under dir (relative, with a trailing / for directories), sorted. */
function listTree(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const full = join(d, name)
      const isDir = statSync(full).isDirectory()
      out.push(relative(dir, full) + (isDir ? '/' : ''))
      if (isDir) walk(full)
    }
  }
  walk(dir)
  return out.sort()
}

function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i] as T, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

interface BadConfigOptions {
  /** Only the first few cases of each kind. */
  short: boolean
  concurrency: number
}

/** What is wrong with how the CLI refused a case (nothing when it exited 2, named what it must, wrote nothing). */
function issuesOf(
  c: BadConfig,
  r: CliResult,
  ran: { dir: string; configPath: string; before: string[]; after: string[] },
  secrets: string[],
): string[] {
  const { dir, configPath, before, after } = ran
  const issues: string[] = []
  if (r.code !== 2) issues.push(`exit ${r.code ?? r.signal} (expected 2)`)
  for (const want of c.expect) {
    // a key must appear as itself (listen.port does not name listen), CONFIG as the file's path
    const named =
      want === 'CONFIG'
        ? r.stderr.includes(configPath)
        : new RegExp(`(^|[\\s'])${escapeRe(want)}([\\s:']|$)`, 'm').test(r.stderr)
    if (!named) issues.push(`stderr does not name ${JSON.stringify(want)}`)
  }
  if (c.yamlLines) {
    const [lo, hi] = c.yamlLines
    const lines = [...r.stderr.matchAll(/config\.yaml:(\d+):\d+/g)].map((m) => Number(m[1]))
    if (!lines.some((n) => n >= lo && n <= hi)) issues.push(`stderr names no line ${lo}..${hi} of the file`)
  }
  for (const secret of [...secrets, ...(c.secrets ?? [])]) {
    if ((r.stdout + r.stderr).includes(secret)) issues.push('printed a secret value')
  }
  for (const f of ['state.json', 'state.json.lock', 'oac-token-proxy.state.json']) {
    if (existsSync(join(dir, f))) issues.push(`created ${f}`)
  }
  if (after.join('\n') !== before.join('\n')) {
    issues.push(
      `files changed: +${after.filter((f) => !before.includes(f))} -${before.filter((f) => !after.includes(f))}`,
    )
  }
  return issues
}

async function runBadConfigs(t: Test, opts: BadConfigOptions): Promise<void> {
  const root = t.testdir()
  const cases = badConfigCases(opts.short)
  const clientSecret = secretValue('client-secret')
  const refreshToken = secretValue('refresh-token')

  const prepare = (c: Pick<BadConfig, 'config' | 'files' | 'modes'>, name: string) => {
    const dir = join(root, name)
    mkdirSync(join(dir, 'adir'), { recursive: true })
    writeFileSync(join(dir, 'client-secret'), clientSecret, { mode: 0o600 })
    writeFileSync(join(dir, 'refresh-token'), refreshToken, { mode: 0o600 })
    for (const [file, content] of Object.entries(c.files ?? {}))
      writeFileSync(join(dir, file), content, { mode: 0o600 })
    for (const [file, mode] of Object.entries(c.modes ?? {})) chmodSync(join(dir, file), mode)
    const configPath = join(dir, 'config.yaml')
    writeFileSync(configPath, typeof c.config === 'string' ? c.config : stringify(c.config), { mode: 0o600 })
    return { dir, configPath }
  }

  // control: the unmodified base configuration is valid, so each case fails for its own defect
  const control = prepare({ config: baseConfig() }, 'control')
  t.doesNotThrow(
    () => loadConfig({ configPath: control.configPath, env: {}, cwd: control.dir }),
    'the base configuration is valid',
  )
  const controlYaml = prepare({ config: baseLines().join('\n') + '\n' }, 'control-yaml')
  t.doesNotThrow(
    () => loadConfig({ configPath: controlYaml.configPath, env: {}, cwd: controlYaml.dir }),
    'the base YAML text is valid',
  )

  const started = performance.now()
  const results = await mapLimit(cases, opts.concurrency, async (c, i) => {
    const { dir, configPath } = prepare(c, `case-${String(i).padStart(3, '0')}`)
    const before = listTree(dir)
    const r = await runCli(configPath, dir)
    const after = listTree(dir)
    const issues = issuesOf(c, r, { dir, configPath, before, after }, [clientSecret, refreshToken])
    return { c, r, issues }
  })
  const seconds = (performance.now() - started) / 1000
  if (process.env.SOAK_CONFIG_LOG) {
    const log = results.map(({ c, r, issues }) => ({ name: c.name, code: r.code, stderr: r.stderr, issues }))
    writeFileSync(process.env.SOAK_CONFIG_LOG, JSON.stringify(log, null, 2))
  }
  const refused = results.filter((x) => x.issues.length === 0).length
  const byCode = new Map<string, number>()
  for (const { r } of results) bump(byCode, /oac-token-proxy: ([a-z_]+):/.exec(r.stderr)?.[1] ?? 'other')
  const kinds = new Map<string, number>()
  for (const c of cases) bump(kinds, c.kind)

  report(
    t,
    `bad configs tried: ${cases.length}, all refused: ${refused} (exit 2 naming the key or file:line, nothing ` +
      `written, no secret shown) in ${seconds.toFixed(1)} s; errors: ${histogram(byCode)}`,
  )
  report(t, `bad configs by kind: ${histogram(kinds)}`)
  t.ok(cases.length >= 60, `at least 60 cases generated (${cases.length})`)
  for (const { c, r, issues } of results) {
    if (issues.length > 0) t.fail(`${c.name}: ${issues.join('; ')}`, { stderr: r.stderr })
  }
  t.equal(refused, cases.length, 'every bad configuration was refused cleanly')
  const codes = ['config_invalid', 'config_unreadable', 'secret_unreadable']
  t.same(
    [...byCode.keys()].filter((k) => !codes.includes(k)),
    [],
    `every refusal carries a config error code (${codes.join(', ')})`,
  )
}

t.setTimeout(SUITE_TIMEOUT_MS)
t.test('4. bad configurations through the built CLI', { skip: partSkipped('4') }, (t) =>
  runBadConfigs(t, { short: !LONG, concurrency: 2 }),
)
