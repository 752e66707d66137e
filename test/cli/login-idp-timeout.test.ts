// An identity domain that never answers: login and token say it timed out, after how long, and which setting sets it.
import t, { type Test } from 'tap'
import { execFile, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { runCli, simulatorFor, type CliResult } from '../helpers/cli-run.js'
import { CLI, writeSimConfig } from '../helpers.js'

/** A TCP server that accepts connections and never answers; returns its base URL. */
async function silentServer(t: Test): Promise<string> {
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    server.close()
    await once(server, 'close')
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function configIn(dir: string, idcsUrl: string, timeoutS = 1): string {
  const path = join(dir, 'config.yaml')
  writeFileSync(
    path,
    [
      'oacUrl: http://127.0.0.1:9',
      `idcsUrl: ${idcsUrl}`,
      'clientId: my-client',
      'clientSecret: { file: client-secret }',
      'scope: "https://aud.example.comurn:opc:resource:consumer::all offline_access"',
      'refreshToken: { file: refresh-token }',
      'stateFile: test.state.json',
      'token:',
      `  idpTimeoutSeconds: ${timeoutS}`,
      // a refresh that outlives the timeout is still waited for (it may rotate the refresh token): keep that short
      '  refreshAnswerTimeoutSeconds: 2',
      '',
    ].join('\n'),
  )
  writeFileSync(join(dir, 'client-secret'), 'a-client-secret\n', { mode: 0o600 })
  writeFileSync(join(dir, 'refresh-token'), 'a-refresh-token\n', { mode: 0o600 })
  return path
}

t.test('login: idp_unreachable says it timed out after 1 s and names token.idpTimeoutSeconds', async (t) => {
  const dir = t.testdir()
  const config = configIn(dir, await silentServer(t))
  const r = await runCli(['login', '--config', config], { cwd: dir })
  t.equal(r.code, 1)
  t.match(r.stderr, /^oac-token-proxy: idp_unreachable: .* did not answer within 1 s \(timed out\)$/m)
  t.match(r.stderr, /hint: .*token\.idpTimeoutSeconds/)
  t.notMatch(r.stderr, /\(23\)/, 'no bare DOMException code')
})

t.test('token: the failure says it timed out after 1 s', async (t) => {
  const dir = t.testdir()
  const config = configIn(dir, await silentServer(t))
  const r = await runCli(['token', '--config', config], { cwd: dir })
  t.equal(r.code, 1)
  t.match(r.stderr, /did not answer within 1 s \(timed out\)/)
  t.equal(r.stdout, '', 'nothing on stdout, where the token would go')
})

t.test('token: a refresh answered after the timeout is waited for, saved and printed', async (t) => {
  const sim = await simulatorFor(t)
  const dir = t.testdir()
  const config = await writeSimConfig(dir, sim, { token: { idpTimeoutSeconds: 1, refreshAnswerTimeoutSeconds: 30 } })
  sim.faults.idcs.next({ kind: 'latency', ms: 2500 })
  const r = await runCli(['token', '--config', config], { cwd: dir })
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^ey[\w-]+\.[\w-]+\.[\w-]+\n$/, 'the late answer is the token printed')
  t.equal(sim.calls.filter((c) => c.path.endsWith('/oauth2/v1/token')).length, 1, 'exactly one token call')
  // the rotated refresh token the late answer carried was saved: a second run needs no token call
  const again = await runCli(['token', '--config', config], { cwd: dir })
  t.equal(again.code, 0, again.stderr)
  t.equal(sim.calls.filter((c) => c.path.endsWith('/oauth2/v1/token')).length, 1, 'the saved token is reused')
})

t.test(
  'token: a late answer that refuses the refresh token is reported as login_required, not a timeout',
  async (t) => {
    const sim = await simulatorFor(t)
    const dir = t.testdir()
    const config = await writeSimConfig(dir, sim, { token: { idpTimeoutSeconds: 1, refreshAnswerTimeoutSeconds: 30 } })
    writeFileSync(join(dir, 'refresh-token'), 'a-refresh-token-the-identity-domain-never-issued\n', { mode: 0o600 })
    sim.faults.idcs.next({ kind: 'latency', ms: 2500 })
    const r = await runCli(['token', '--config', config], { cwd: dir })
    t.equal(r.code, 4, r.stderr)
    t.match(r.stderr, /^oac-token-proxy: login_required: /m)
    t.notMatch(r.stderr, /timed out/)
    t.equal(r.stdout, '')
  },
)

t.test('on a terminal, login shows that it is waiting for the identity provider', async (t) => {
  if (spawnSync('script', ['--version']).status !== 0) {
    t.comment('skipped: the script command (util-linux) is not installed, so there is no terminal to run login in')
    return
  }
  const dir = t.testdir()
  const url = await silentServer(t)
  const config = configIn(dir, url, 3)
  const r = await new Promise<CliResult>((resolve) => {
    execFile(
      'script',
      ['-qec', `"${process.execPath}" "${CLI}" login --config "${config}"`, '/dev/null'],
      { cwd: dir, env: { PATH: process.env.PATH ?? '', TERM: 'dumb' }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    )
  })
  t.match(r.stdout, `waiting for the identity provider at ${new URL(url).host}: 1 s (gives up after 3 s)`)
  t.match(r.stdout, 'idp_unreachable')
})
