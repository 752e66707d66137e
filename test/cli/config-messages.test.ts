// The built CLI's configuration errors: no config, a bad flag or variable, a YAML syntax error; each names its real source.
import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { CLI } from '../helpers.js'

/** The environment of this run without any OAC_PROXY_* variable, plus `extra`. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const clean = Object.entries(process.env).filter(([k]) => !k.startsWith('OAC_PROXY_'))
  return { ...Object.fromEntries(clean), ...extra }
}

const SETTINGS = {
  OAC_PROXY_OAC_URL: 'https://oac.example.com',
  OAC_PROXY_IDCS_URL: 'https://idcs.example.com',
  OAC_PROXY_CLIENT_ID: 'my-client',
  OAC_PROXY_SCOPE: 'https://aud.example.comurn:opc:resource:consumer::all offline_access',
}

/** Runs the CLI; resolves with its exit code and output. */
function cli(args: string[], cwd: string, extraEnv: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, env: env(extraEnv), timeout: 10_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    )
  })
}

t.test('serve with no config at all: one problem naming --config and OAC_PROXY_CONFIG', async (t) => {
  const dir = t.testdir()
  const r = await cli(['serve'], dir)
  t.equal(r.code, 2)
  t.match(r.stderr, /^oac-token-proxy: config_invalid: configuration has 1 problem:/)
  t.match(r.stderr, '--config FILE')
  t.match(r.stderr, 'OAC_PROXY_CONFIG')
  t.equal(r.stderr.match(/is required/g), null, 'no "is required" per key')
  t.notMatch(r.stderr, 'no file given)\n  - ', 'not repeated per key')
})

t.test('a bad flag value: the hint names the flag, not a file', async (t) => {
  const dir = t.testdir({ 'config.yaml': 'listen:\n  port: 0\n' })
  const r = await cli(['serve', '--config', 'config.yaml', '--host', '0.0.0.0'], dir, SETTINGS)
  t.equal(r.code, 2)
  t.match(r.stderr, 'config_invalid')
  t.match(r.stderr, /hint: Fix the flag --host /)
  t.notMatch(r.stderr, 'Fix ' + join(dir, 'config.yaml'))
})

t.test('a bad variable value: the hint names the variable, not a file', async (t) => {
  const dir = t.testdir({ 'config.yaml': 'listen:\n  port: 0\n' })
  const r = await cli(['serve', '--config', 'config.yaml'], dir, { ...SETTINGS, OAC_PROXY_LOG_FORMAT: 'prety' })
  t.equal(r.code, 2)
  t.match(r.stderr, /hint: Fix the environment variable OAC_PROXY_LOG_FORMAT /)
})

t.test('a misspelt OAC_PROXY_ variable is refused with a suggestion', async (t) => {
  const dir = t.testdir()
  const r = await cli(['serve'], dir, { ...SETTINGS, OAC_PROXY_LISTEN_PROT: '0' })
  t.equal(r.code, 2)
  t.match(r.stderr, 'OAC_PROXY_LISTEN_PROT is not a known variable (did you mean OAC_PROXY_LISTEN_PORT?)')
})

t.test('a YAML syntax error shows the line and a caret', async (t) => {
  const dir = t.testdir({ 'config.yaml': 'oacUrl: https://oac.example.com\nidcsUrl: [\n' })
  const r = await cli(['serve', '--config', 'config.yaml'], dir)
  t.equal(r.code, 2)
  t.match(r.stderr, 'config_unreadable')
  t.match(r.stderr, /\n\s+2 \| idcsUrl: \[\n/)
  t.match(r.stderr, /\n\s+\| +\^\n/)
})

t.test('several YAML complaints about one position show its excerpt once', async (t) => {
  const dir = t.testdir({ 'config.yaml': 'oacUrl: https://oac.example.com\nlisten:\n  port: 1\n   host: x\n' })
  const r = await cli(['serve', '--config', 'config.yaml'], dir)
  t.equal(r.code, 2)
  t.match(r.stderr, 'config_unreadable')
  t.equal(r.stderr.match(/^\s+3 \| {3}port: 1$/gm)?.length, 1, 'the line is shown once: ' + r.stderr)
  t.equal(r.stderr.match(/config\.yaml:3:\d+: /g)?.length, 1, 'one position line, its messages joined')
})
