// Where the proxy listens: unix socket with mode 0600, loopback by default, non-loopback only with keys or opt-out.
import t from 'tap'
import { chmodSync, existsSync, statSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { startStack } from '../helpers.js'

/** Writes a file with exactly `mode` (the test umask would otherwise tighten it). */
function writeLoose(path: string, text: string, mode: number): void {
  writeFileSync(path, text)
  chmodSync(path, mode)
}

function viaSocket(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, path, headers: { host: 'localhost' } }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('unix socket: created 0600, serves requests, removed on close', async (t) => {
  const s = await startStack(t, { file: { listen: { socket: 'proxy.sock', tcp: false } } })
  const socketPath = join(s.dir, 'proxy.sock')
  t.equal(statSync(socketPath).mode & 0o777, 0o600)
  t.equal(s.proxy.url, `unix:${socketPath}`)
  const res = await viaSocket(socketPath, '/api/20210901/snapshots')
  t.equal(res.status, 200)
  t.same(JSON.parse(res.body), { items: [] })
  await s.proxy.close()
  t.notOk(existsSync(socketPath), 'socket file removed')
})

t.test('unix socket mode 0660 and a stale socket file from a killed run', async (t) => {
  const s = await startStack(t, {
    files: () => ({ 'proxy.sock': '' }),
    file: { listen: { socket: 'proxy.sock', socketMode: '0660' } },
  })
  t.equal(statSync(join(s.dir, 'proxy.sock')).mode & 0o777, 0o660)
  t.equal((await s.get('/api/20210901/snapshots')).status, 200, 'TCP still on')
})

t.test('a non-loopback address without local keys is refused at load', async (t) => {
  await t.rejects(startStack(t, { env: { OAC_PROXY_LISTEN_HOST: '0.0.0.0' } }), {
    code: 'config_invalid',
    message: /listen\.host 0\.0\.0\.0 is not a loopback address: set security\.localKeysFile/,
  })
})

t.test('with allowNonLoopback it starts, and warns loudly', async (t) => {
  const s = await startStack(t, {
    env: { OAC_PROXY_LISTEN_HOST: '0.0.0.0', OAC_PROXY_SECURITY_ALLOW_NON_LOOPBACK: 'true' },
  })
  t.equal(s.logs.events('proxy.exposed').length, 1)
  t.equal(s.logs.events('proxy.exposed')[0]?.level, 'warn')
  t.match(s.logs.events('config.warning')[0]?.msg, /anyone who can reach the port/)
})

t.test('with local keys a non-loopback address is accepted', async (t) => {
  const s = await startStack(t, {
    env: { OAC_PROXY_LISTEN_HOST: '0.0.0.0' },
    files: () => ({ keys: `${'k'.repeat(32)}\n` }),
    file: { security: { localKeysFile: 'keys' } },
  })
  t.match(s.logs.events('proxy.exposed')[0]?.msg, /callers must present a local key/)
})

t.test('secret files readable by others are refused, or warned about when allowed', async (t) => {
  await t.rejects(
    startStack(t, {
      noRefreshToken: true,
      beforeProxy: (sim, dir) => writeLoose(join(dir, 'rt'), sim.issueRefreshToken(), 0o644),
      file: { refreshToken: { file: 'rt' } },
    }),
    {
      code: 'secret_unreadable',
      message: /refreshToken: file .*rt is readable by group or others \(mode 0644\); run: chmod 600/,
    },
  )
  const s = await startStack(t, {
    noRefreshToken: true,
    beforeProxy: (sim, dir) => writeLoose(join(dir, 'rt'), sim.issueRefreshToken(), 0o640),
    file: { refreshToken: { file: 'rt' }, security: { secretFilePermissions: 'warn' } },
  })
  t.equal((await s.get('/api/20210901/snapshots')).status, 200)
  t.match(s.logs.events('config.warning')[0]?.msg, /readable by group or others \(mode 0640\)/)
})

t.test('short local keys are refused', async (t) => {
  await t.rejects(
    startStack(t, { files: () => ({ keys: 'short\n' }), file: { security: { localKeysFile: 'keys' } } }),
    {
      code: 'config_invalid',
      message: /shorter than 16 characters/,
    },
  )
})
