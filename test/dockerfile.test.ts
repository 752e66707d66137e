// The image's entrypoint, environment and healthcheck, run as written but outside Docker.
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { request } from 'undici'
import { startSimulator } from '../src/simulator/index.js'
import { waitFor, writeSimConfig } from './helpers.js'

const dockerfile = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8')
const root = new URL('..', import.meta.url).pathname

/** The JSON array of an exec-form instruction of the final stage. */
function execForm(instruction: string): string[] {
  const line = dockerfile
    .split('\n')
    .filter((l) => l.startsWith(`${instruction} [`))
    .pop()
  if (!line) throw new Error(`no exec-form ${instruction}`)
  return JSON.parse(line.slice(line.indexOf('['))) as string[]
}

function finalEnv(): Record<string, string> {
  const stage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
  const block = /\nENV ((?:[^\n]*\\\n)*[^\n]*)/.exec(stage)?.[1] ?? ''
  const env: Record<string, string> = {}
  for (const m of block.replace(/\\\n/g, ' ').matchAll(/([A-Z_]+)=(\S+)/g)) env[m[1] as string] = m[2] as string
  return env
}

t.test('the Dockerfile is multi-stage, non-root, exec-form, with a healthcheck and a state volume', async (t) => {
  t.equal((dockerfile.match(/^FROM /gm) ?? []).length, 2)
  t.match(dockerfile, /^USER node$/m)
  t.match(dockerfile, /npm ci --omit=dev/)
  t.match(dockerfile, /^VOLUME \["\/var\/lib\/oac-token-proxy"\]$/m)
  t.same(execForm('ENTRYPOINT'), [
    'node',
    '--max-semi-space-size=2',
    '--no-wasm-tier-up',
    '--expose-gc',
    '/app/dist/cli.js',
  ])
  t.same(execForm('CMD'), ['serve'])
  t.equal(finalEnv().OAC_PROXY_STATE_FILE, '/var/lib/oac-token-proxy/state.json')
})

t.test('entrypoint + CMD with the image environment: serves, passes the healthcheck, stops on SIGTERM', async (t) => {
  const sim = await startSimulator()
  t.teardown(() => sim.close())
  const dir = t.testdir({ state: {} })
  const configPath = await writeSimConfig(dir, sim, { listen: { port: 18787 } })
  const env = {
    ...finalEnv(),
    PATH: process.env.PATH ?? '',
    // the image's paths, mapped into the test directory
    OAC_PROXY_CONFIG: configPath,
    OAC_PROXY_STATE_FILE: join(dir, 'state', 'state.json'),
    OAC_PROXY_LISTEN_PORT: '0',
  }
  const [cmd, ...args] = execForm('ENTRYPOINT')
  const child = spawn(
    cmd === 'node' ? process.execPath : (cmd as string),
    [...args.map((a) => a.replace('/app/', root)), ...execForm('CMD')],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  await waitFor(() => out.includes('"proxy.listening"'), 10_000, 'the proxy to listen')
  const port = /"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(out)?.[1] as string
  const res = await request(`http://127.0.0.1:${port}/api/20210901/snapshots`)
  t.equal(res.statusCode, 200)
  await res.body.dump()

  const healthcheck = /^HEALTHCHECK [^\n]*\\\n\s+CMD (\[.*\])$/m.exec(dockerfile)?.[1]
  const [healthCmd, healthFlag, healthScript] = JSON.parse(healthcheck as string) as string[]
  t.same([healthCmd, healthFlag], ['node', '-e'])
  const probe = await promisify(execFile)(process.execPath, ['-e', healthScript as string], {
    env: { ...env, OAC_PROXY_LISTEN_PORT: port },
  }).then(
    () => 0,
    (err: { code?: number }) => err.code ?? 1,
  )
  t.equal(probe, 0, 'the HEALTHCHECK command succeeds')

  child.kill('SIGTERM')
  t.equal(await exited, 0, 'exits 0 on SIGTERM')
  t.match(out, /"event":"proxy.stopped"/)
})
