// `simulate --write-config DIR` then `serve --config DIR/config.yaml`: the documented try-it path works.
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { CLI, spawnProxy, waitFor } from './helpers.js'

t.test('simulate writes a config that serve can use', async (t) => {
  const dir = t.testdir()
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
  await waitFor(() => out.includes('config written:'), 10_000, 'the simulator to write its config')
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
