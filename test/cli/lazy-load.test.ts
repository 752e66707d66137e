// What the built CLI loads: each command's logic and the simulator load only for the command that needs them.
import t from 'tap'
import { execFile } from 'node:child_process'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLI } from '../helpers.js'

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url))

/**
 * A module hook that names every file of dist/ the process loads, one line each on stderr. registerHooks runs in the
 * process itself (the async hooks of module.register run on another thread, whose writes may be lost at exit).
 */
const REGISTER =
  "import { registerHooks } from 'node:module';" +
  ' registerHooks({ load(url, context, next) {' +
  " if (url.includes('/dist/')) process.stderr.write('module.loaded ' + url + '\\n');" +
  ' return next(url, context) } })'

/** Runs the CLI with the hook; resolves the dist/ files it loaded (relative paths) and its exit code. */
function loadedBy(args: string[]): Promise<{ code: number; modules: string[] }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, CLI, ...args],
      { env: { PATH: process.env.PATH ?? '' }, timeout: 30_000, killSignal: 'SIGKILL' },
      (err, _stdout, stderr) => {
        const modules = [...stderr.matchAll(/^module\.loaded (\S+)$/gm)].map((m) =>
          relative(DIST, fileURLToPath(m[1] as string)),
        )
        resolve({ code: err ? Number(err.code) : 0, modules })
      },
    )
  })
}

const LOGIC = ['cli/login.js', 'cli/token.js', 'cli/status.js', 'cli/doctor.js', 'cli/demo.js']

t.test('serve loads the proxy, not the simulator nor the logic of the other commands', async (t) => {
  // no configuration: serve stops at its config check, after everything it imports at start is loaded
  const r = await loadedBy(['serve'])
  t.equal(r.code, 2)
  t.ok(r.modules.includes('cli/serve-command.js') && r.modules.includes('app/run.js'), 'the hook sees the loads')
  t.same(
    r.modules.filter((m) => m.startsWith('simulator/') || LOGIC.includes(m)),
    [],
  )
})

t.test('a bad demo flag is refused before the simulator loads', async (t) => {
  const r = await loadedBy(['demo', '--port', 'x'])
  t.equal(r.code, 2)
  t.same(
    r.modules.filter((m) => m.startsWith('simulator/')),
    [],
  )
})

t.test('demo --check loads the simulator', async (t) => {
  const r = await loadedBy(['demo', '--check', '--port', '0'])
  t.equal(r.code, 0)
  t.ok(r.modules.includes('simulator/index.js'))
  t.ok(r.modules.includes('cli/demo.js'))
})
