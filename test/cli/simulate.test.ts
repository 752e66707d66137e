// `simulate --write-config DIR` then `serve --config DIR/config.yaml`: the documented try-it path works.
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, lstatSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { runCli } from '../helpers/cli-run.js'
import { CLI, spawnProxy, waitFor } from '../helpers.js'

/** Starts `simulate --write-config dir` and resolves with its stdout once the config is written. */
async function simulateInto(t: Test, dir: string, until = 'config written:'): Promise<string> {
  const sim = spawn(process.execPath, [CLI, 'simulate', '--write-config', dir], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const simExited = new Promise((resolve) => sim.on('exit', resolve))
  t.teardown(async () => {
    sim.kill('SIGTERM')
    await simExited
  })
  let out = ''
  sim.stdout.on('data', (d: Buffer) => (out += d.toString()))
  await waitFor(() => out.includes(until), 10_000, `the simulator to print ${until}`)
  return out
}

t.test('simulate writes a config that serve can use', async (t) => {
  const dir = t.testdir()
  const out = await simulateInto(t, dir)
  t.equal(statSync(join(dir, 'client-secret')).mode & 0o777, 0o600)
  t.equal(statSync(join(dir, 'refresh-token')).mode & 0o777, 0o600)
  const secret = readFileSync(join(dir, 'client-secret'), 'utf8').trim()
  t.notOk(out.includes(secret), 'the client secret is not printed')

  const proxy = await spawnProxy(t, join(dir, 'config.yaml'), { OAC_PROXY_LISTEN_PORT: '0' })
  const res = await request(`${proxy.url}/api/20210901/snapshots`)
  t.equal(res.statusCode, 200)
  t.same(await res.body.json(), { items: [] })
  t.notOk(JSON.stringify(proxy.lines).includes(secret), 'nor logged by the proxy')
})

t.test('the folder simulate creates keeps its secrets out of git', async (t) => {
  const repo = t.testdir({ 'README.md': 'a project\n' })
  const dir = join(repo, 'sim')
  await simulateInto(t, dir)
  t.match(readFileSync(join(dir, '.gitignore'), 'utf8'), /^\*$/m, 'a .gitignore ignoring everything')
  t.match(
    readFileSync(join(dir, 'config.yaml'), 'utf8'),
    /^stateFile: \S+\.state\.json$/m,
    'the state file matches *.state.json',
  )
  const git = (...args: string[]) => spawnSync('git', args, { cwd: repo, encoding: 'utf8' })
  if (git('--version').status !== 0) return t.comment('git is not installed: the git status check is skipped')
  git('init', '-q')
  t.equal(git('status', '--porcelain', '--untracked-files=all').stdout, '?? README.md\n', 'git sees no file of sim/')
})

t.test('an existing non-empty folder gets no .gitignore, and simulate says so', async (t) => {
  const dir = t.testdir({ 'notes.txt': 'mine\n' })
  const out = await simulateInto(t, dir, 'version control')
  t.notOk(existsSync(join(dir, '.gitignore')), 'the folder of the user is left alone')
  t.match(out, /already held files, so no \.gitignore was written there/)
})

t.test(
  "simulate again into its folder: the earlier simulator's state file goes, and the config works at once",
  async (t) => {
    const dir = join(t.testdir(), 'sim')
    await simulateInto(t, dir)
    const config = join(dir, 'config.yaml')
    const first = await runCli(['token', '--config', config])
    t.equal(first.code, 0, first.stderr)
    t.ok(existsSync(join(dir, 'oac-token-proxy.state.json')), 'a sign-in saved for the first simulator')
    const again = await simulateInto(t, dir, 'removed ')
    t.match(again, /^removed \S+oac-token-proxy\.state\.json: it held a sign-in to an earlier simulator/m)
    t.notMatch(again, /no \.gitignore was written/, 'its own .gitignore is still there')
    const second = await runCli(['token', '--config', config])
    t.equal(second.code, 0, 'no state_mismatch against the new simulator: ' + second.stderr)
  },
)

t.test('a state file the simulator did not write is kept and named', async (t) => {
  const kept = {
    version: 1,
    credentials: {
      default: {
        refreshToken: 'a-refresh-token-kept',
        identity: {
          credential: 'default',
          idcsUrl: 'https://idcs-x.identity.oraclecloud.com',
          clientId: 'oac-sim-client',
        },
      },
    },
  }
  const dir = t.testdir({ 'oac-token-proxy.state.json': JSON.stringify(kept) })
  const out = await simulateInto(t, dir, 'is kept')
  t.match(out, /oac-token-proxy\.state\.json was already there and may hold a sign-in elsewhere, so it is kept/)
  t.same(JSON.parse(readFileSync(join(dir, 'oac-token-proxy.state.json'), 'utf8')), kept, 'left as it was')
})

t.test('files already at the names simulate writes are replaced, never written through', async (t) => {
  const dir = t.testdir({ 'victim.txt': 'precious\n' })
  const victim = join(dir, 'victim.txt')
  // a planted symlink, and a world-readable file whose mode a plain rewrite would keep
  symlinkSync(victim, join(dir, 'client-secret'))
  symlinkSync(victim, join(dir, 'refresh-token'))
  writeFileSync(join(dir, 'config.yaml'), 'old\n')
  chmodSync(join(dir, 'config.yaml'), 0o644)
  await simulateInto(t, dir)
  t.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the symlinks target is untouched')
  for (const name of ['client-secret', 'refresh-token', 'config.yaml']) {
    const st = lstatSync(join(dir, name))
    t.ok(st.isFile(), `${name} is a regular file`)
    t.equal(st.mode & 0o777, 0o600, `${name} has mode 0600`)
  }
  t.match(readFileSync(join(dir, 'config.yaml'), 'utf8'), /^clientSecret: \{ file: client-secret \}$/m)
})
