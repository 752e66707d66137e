// Long reliability run (`npm run soak`): the reliability suites (test/reliability/*.test.ts) through tap with
// SOAK_LONG=1, its output streamed. The same code as the short version: a 10 min soak, 20 min of IdP faults,
// 100 SIGKILLs and every bad config, one suite after another (--jobs=1), so each figure is taken alone. It runs the
// built CLI (dist/, which `npm run soak` builds first). Extra arguments go to tap (e.g. --reporter=tap); SOAK_SEED,
// SOAK_RPS and SOAK_PARTS pass through to the suites.
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { constants } from 'node:os'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
if (!existsSync(new URL('../dist/cli.js', import.meta.url))) {
  console.error('soak: dist/cli.js is missing: run `npm run build` first (`npm run soak` does)')
  process.exit(2)
}

// tap runs them in the order of their names; --jobs=1 runs one at a time
const suites = readdirSync(new URL('../test/reliability/', import.meta.url))
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => `test/reliability/${f}`)

const started = Date.now()
const child = spawn(
  process.platform === 'win32' ? 'npx.cmd' : 'npx',
  ['tap', '--timeout=1800', '--jobs=1', ...process.argv.slice(2), ...suites],
  { cwd: root, env: { ...process.env, SOAK_LONG: '1' }, stdio: 'inherit' },
)
const forward = (signal) => child.kill(signal)
process.on('SIGINT', forward)
process.on('SIGTERM', forward)
child.on('exit', (code, signal) => {
  const status = code ?? 128 + (constants.signals[signal] ?? 0)
  const seconds = Math.round((Date.now() - started) / 1000)
  console.log(`soak: ${status === 0 ? 'passed' : `failed (exit ${status})`} in ${seconds} s`)
  process.exit(status)
})
