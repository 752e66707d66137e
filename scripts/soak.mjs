// Long reliability run (`npm run soak`): builds, then runs the reliability suite through tap with SOAK_LONG=1.
// The same code as the short version in `npm test`: a 10 min soak, 20 min of IdP faults, 100 SIGKILLs and every
// bad config, one after another. `--no-build` skips the build; other arguments go to tap (e.g. --reporter=tap);
// SOAK_SEED, SOAK_RPS and SOAK_PARTS pass through to the suite.
import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx'
const args = process.argv.slice(2)

function run(command, commandArgs, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, { cwd: root, env, stdio: 'inherit' })
    const forward = (signal) => child.kill(signal)
    process.on('SIGINT', forward)
    process.on('SIGTERM', forward)
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward)
      process.off('SIGTERM', forward)
      resolve(code ?? 128 + (constants.signals[signal] ?? 0))
    })
  })
}

// the suite runs the built CLI (dist/cli.js): build first, so that it tests the current source
if (!args.includes('--no-build')) {
  const built = await run(npx, ['tsc', '-p', 'tsconfig.json'])
  if (built !== 0) {
    console.error('soak: the build failed')
    process.exit(built)
  }
}
const started = Date.now()
const code = await run(
  npx,
  ['tap', '--timeout=1800', ...args.filter((a) => a !== '--no-build'), 'test/reliability/reliability.test.ts'],
  { ...process.env, SOAK_LONG: '1' },
)
console.log(
  `soak: ${code === 0 ? 'passed' : `failed (exit ${code})`} in ${Math.round((Date.now() - started) / 1000)} s`,
)
process.exit(code)
