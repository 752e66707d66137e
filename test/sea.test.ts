// The single-file executable (npm run sea): built once, then run from an empty folder with no Node and no node_modules.
// Building takes a while (it fetches a Node binary on first use): set OAC_PROXY_TEST_SEA=1 to run it (.ci/run does).
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { copyFileSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { request } from 'undici'
import { startSimulator } from '../src/simulator/index.js'
import { waitFor, writeSimConfig } from './helpers.js'

const root = new URL('..', import.meta.url).pathname
const run = promisify(execFile)
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1)

/** VmRSS and VmHWM of a running process, in bytes. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { rss: kb('VmRSS'), peak: kb('VmHWM') }
}

if (process.env.OAC_PROXY_TEST_SEA !== '1') {
  t.pass('single-file executable not built: set OAC_PROXY_TEST_SEA=1 to build and test it')
} else if (process.platform !== 'linux' || process.arch !== 'x64') {
  t.pass(`single-file executable is built for linux-x64 only, not ${process.platform}-${process.arch}`)
} else {
  // building (esbuild, the blob, strip, postject) takes 10-15 s on an idle machine, minutes on a busy one
  t.setTimeout(600_000)
  t.test('the single-file executable runs the demo check and the proxy from an empty folder', async (t) => {
    const built = await run(process.execPath, [join(root, 'scripts', 'build-sea.mjs')], {
      cwd: root,
      timeout: 300_000,
      maxBuffer: 16 * 2 ** 20,
    })
    const source = join(root, 'build', 'sea', 'oac-token-proxy')
    t.comment(built.stdout.trim())

    const dir = t.testdir({})
    const exe = join(dir, 'oac-token-proxy')
    copyFileSync(source, exe)
    t.same(readdirSync(dir), ['oac-token-proxy'], 'nothing else in the folder')
    const size = statSync(exe).size
    t.ok(size > 10 * 2 ** 20, 'the Node binary is inside')
    // no node, npm or node_modules to fall back on: PATH holds only system tools
    const env = { PATH: '/usr/bin:/bin', HOME: dir }

    const version = await run(exe, ['--version'], { cwd: dir, env })
    t.equal(
      version.stdout.trim(),
      (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version,
    )

    const demo = await run(exe, ['demo', '--check', '--port', '0'], { cwd: dir, env, timeout: 60_000 })
    t.match(demo.stdout, /^GET \/api\/20210901\/snapshots through the proxy: 200 /m)

    const sim = await startSimulator()
    t.teardown(() => sim.close())
    const configPath = await writeSimConfig(dir, sim)
    const child = spawn(exe, ['serve', '--config', configPath], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL')
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    await waitFor(() => out.includes('"proxy.listening"') || child.exitCode !== null, 20_000, 'the proxy to listen')
    t.equal(child.exitCode, null, `still running (stderr: ${err.slice(0, 500)})`)
    const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1] as string
    for (let i = 0; i < 20; i++) {
      const res = await request(`${url}/api/20210901/snapshots`)
      t.equal(res.statusCode, 200)
      t.same(await res.body.json(), { items: [] })
    }
    const memory = memoryOf(child.pid as number)
    t.comment(`single-file executable: ${mb(size)} MB; serving: RSS ${mb(memory.rss)} MB, peak ${mb(memory.peak)} MB`)
    t.ok(memory.rss < 200 * 2 ** 20, 'RSS stays in the range of a plain node process')

    child.kill('SIGTERM')
    t.equal(await exited, 0, 'exits 0 on SIGTERM')
    t.match(out, /"event":"proxy.stopped"/)
    t.ok(statSync(join(dir, 'state.json')).isFile(), 'the state file is written beside the config')
  })
}
