// The packed package: `npm pack` builds it, the tarball installs globally and `oac-token-proxy demo --check` runs from any folder.
import t from 'tap'
import { execFile, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string
  version: string
  private?: boolean
  bin: Record<string, string>
  files: string[]
  scripts: Record<string, string>
}

/** The environment of this run without any OAC_PROXY_* or npm_* variable (npm's own run sets many). */
const ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith('OAC_PROXY_') && !/^npm_/i.test(k)),
)

function run(cmd: string, args: string[], cwd: string, timeoutMs: number) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(cmd, args, { cwd, env: ENV, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    )
  })
}

t.test('package.json can be published and names a built bin', async (t) => {
  t.notOk(pkg.private, 'not private')
  t.equal(pkg.bin['oac-token-proxy'], 'dist/cli.js')
  t.ok(pkg.files.includes('dist'), 'dist is packed')
  t.match(pkg.scripts.prepack, /npm run build/, 'npm pack builds dist first')
  t.notOk(pkg.scripts.prepare, 'no prepare script: installing the tarball runs nothing')
  t.match(readFileSync(join(ROOT, 'src', 'cli.ts'), 'utf8'), /^#!\/usr\/bin\/env /, 'the CLI has a shebang')
  // a linked command (npm link) runs dist/cli.js itself, so a rebuild must leave it executable
  t.equal(statSync(join(ROOT, 'dist', 'cli.js')).mode & 0o111, 0o111, 'the build leaves dist/cli.js executable')
})

t.test('npm pack, npm install -g from the tarball, demo --check from an empty folder', async (t) => {
  if (spawnSync('npm', ['--version'], { env: ENV }).status !== 0) {
    t.comment('skipped: npm is not installed, so the package cannot be packed')
    return
  }
  const dir = t.testdir({ empty: {} })
  // a copy of the sources, so packing (which rebuilds dist) leaves the tree under test alone
  const src = join(dir, 'src-copy')
  mkdirSync(src)
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'config.example.yaml']) {
    cpSync(join(ROOT, f), join(src, f))
  }
  for (const d of ['src', 'docs', 'dist']) cpSync(join(ROOT, d), join(src, d), { recursive: true })
  symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'), 'dir')

  // the dist/ just built by the test run is packed as is: prepack would only compile it again, which is
  // slow enough on a busy machine to starve the tests running beside this one (SLOW_PACK=1 runs it)
  const scripts = process.env.SLOW_PACK === '1' ? [] : ['--ignore-scripts']
  const packed = await run('npm', ['pack', ...scripts, '--pack-destination', dir], src, 120_000)
  t.equal(packed.code, 0, packed.stderr)
  const tarball = join(dir, `${pkg.name}-${pkg.version}.tgz`)
  t.ok(existsSync(tarball), 'the tarball is written')
  const listing = await run('tar', ['tzf', tarball], dir, 10_000)
  const files = listing.stdout.split('\n').filter(Boolean)
  for (const f of ['package/dist/cli.js', 'package/dist/simulator/index.js', 'package/README.md']) {
    t.ok(files.includes(f), `${f} is packed`)
  }
  t.notOk(
    files.some((f) => f.startsWith('package/src/') || f.startsWith('package/test/')),
    'no sources or tests',
  )
  t.notOk(
    files.some((f) => /\.state\.json$|\/client-secret$|\/refresh-token$/.test(f)),
    'no state or secret file',
  )

  const prefix = join(dir, 'prefix')
  const installed = await run(
    'npm',
    ['install', '-g', '--prefix', prefix, tarball, '--prefer-offline', '--no-audit', '--no-fund'],
    dir,
    180_000,
  )
  t.equal(installed.code, 0, installed.stderr)
  t.notMatch(installed.stderr, /install-scripts|allow-scripts/, 'no script for npm to ask about')
  const bin = join(prefix, 'bin', 'oac-token-proxy')
  t.ok(existsSync(bin), 'the command is linked into the prefix')
  t.same(readdirSync(join(dir, 'empty')), [], 'the folder is empty')

  const version = await run(bin, ['--version'], join(dir, 'empty'), 10_000)
  t.same(version, { code: 0, stdout: `${pkg.version}\n`, stderr: '' })
  const demo = await run(bin, ['demo', '--check', '--port', '0'], join(dir, 'empty'), 30_000)
  t.equal(demo.code, 0, demo.stderr)
  t.match(demo.stdout, /through the proxy: 200/)
  t.same(readdirSync(join(dir, 'empty')), [], 'the demo wrote nothing into the folder it ran in')
})

t.test('no file tells to run the command through npx, which may fetch a stranger package', async (t) => {
  const listed = spawnSync('git', ['ls-files', '-z', 'README.md', 'docs', 'src', 'deploy', 'config.example.yaml'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
  if (listed.status !== 0) {
    t.comment('skipped: not a git checkout, so the tracked files cannot be listed')
    return
  }
  const files = listed.stdout.split('\0').filter(Boolean)
  t.ok(files.length > 10, 'the tracked files are listed')
  const offenders = files.filter((f) =>
    /\bnpx\s+(--\S+\s+)*oac-token-proxy\b/.test(readFileSync(join(ROOT, f), 'utf8')),
  )
  t.same(offenders, [])
})
