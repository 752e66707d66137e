// A refusal by the identity domain reads the same from login, token and serve: one code, one hint, one exit code.
import t, { type Test } from 'tap'
import { writeFileSync } from 'node:fs'
import type { Simulator } from '../../src/simulator/index.js'
import { runCli, simulatorFor, type CliResult } from '../helpers/cli-run.js'
import { spawnProxy, waitFor, writeSimConfig } from '../helpers.js'
import { request } from 'undici'
import { join } from 'node:path'

async function setup(t: Test): Promise<{ sim: Simulator; dir: string; configPath: string }> {
  const sim = await simulatorFor(t, { deviceIntervalS: 1 })
  const dir = t.testdir()
  const configPath = await writeSimConfig(dir, sim)
  return { sim, dir, configPath }
}

/** The `code: message` line and the hint line of a CLI error. */
function errorOf(r: CliResult): { code: string | undefined; hint: string | undefined } {
  return {
    code: /^oac-token-proxy: ([a-z_]+): /m.exec(r.stderr)?.[1],
    hint: /^\s*hint: (.*)$/m.exec(r.stderr)?.[1],
  }
}

t.test('a wrong client secret: login and token both say credential_rejected, exit 4, the same hint', async (t) => {
  const { dir, configPath } = await setup(t)
  writeFileSync(join(dir, 'client-secret'), 'not-the-secret\n', { mode: 0o600 })
  const login = await runCli(['login', '--config', configPath], { cwd: dir })
  const token = await runCli(['token', '--config', configPath], { cwd: dir })
  t.equal(login.code, 4, login.stderr)
  t.equal(token.code, 4, token.stderr)
  const fromLogin = errorOf(login)
  t.equal(fromLogin.code, 'credential_rejected')
  t.match(fromLogin.hint, /clientId and clientSecret/)
  t.same(errorOf(token), fromLogin, 'token reports the same code and hint')
  t.notMatch(login.stdout, /enter the code/, 'no code is shown for a client that is refused')
  // serve: the same code and hint in the 503 callers get
  const proxy = await spawnProxy(t, configPath)
  await waitFor(() => proxy.lines.some((l) => l.event === 'token.credential_rejected'), 10_000, 'the refusal')
  const res = await request(`${proxy.url}/api/20210901/snapshots`)
  t.equal(res.statusCode, 503)
  const body = (await res.body.json()) as { error: string; hint: string }
  t.same({ code: body.error, hint: body.hint }, fromLogin, 'serve answers with the same code and hint')
})

t.test('a scope the domain does not know: login says credential_rejected with the scope hint', async (t) => {
  const { sim, dir } = await setup(t)
  const configPath = await writeSimConfig(dir, sim, {
    scope: 'https://other.example.comurn:opc:resource:consumer::all',
  })
  const login = await runCli(['login', '--config', configPath], { cwd: dir })
  t.equal(login.code, 4, login.stderr)
  t.equal(errorOf(login).code, 'credential_rejected')
  t.match(errorOf(login).hint, /doctor/)
})
