// A refusal by the identity domain reads the same from login, token and serve: one code, one hint, one exit code.
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { startSimulator, type Simulator } from '../../src/simulator/index.js'
import { CLI, writeSimConfig } from '../helpers.js'
import { join } from 'node:path'

interface Result {
  code: number
  stdout: string
  stderr: string
}

/** Runs the built CLI with no OAC_PROXY_* variables and no TTY; resolves with its exit code and output. */
function cli(args: string[], cwd: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd, env: { PATH: process.env.PATH ?? '' }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    )
  })
}

async function setup(t: Test): Promise<{ sim: Simulator; dir: string; configPath: string }> {
  const sim = await startSimulator({ deviceIntervalS: 1 })
  t.teardown(() => sim.close())
  const dir = t.testdir()
  const configPath = await writeSimConfig(dir, sim)
  return { sim, dir, configPath }
}

/** The `code: message` line and the hint line of a CLI error. */
function errorOf(r: Result): { code: string | undefined; hint: string | undefined } {
  return {
    code: /^oac-token-proxy: ([a-z_]+): /m.exec(r.stderr)?.[1],
    hint: /^\s*hint: (.*)$/m.exec(r.stderr)?.[1],
  }
}

t.test('a wrong client secret: login and token both say credential_rejected, exit 4, the same hint', async (t) => {
  const { dir, configPath } = await setup(t)
  writeFileSync(join(dir, 'client-secret'), 'not-the-secret\n', { mode: 0o600 })
  const login = await cli(['login', '--config', configPath], dir)
  const token = await cli(['token', '--config', configPath], dir)
  t.equal(login.code, 4, login.stderr)
  t.equal(token.code, 4, token.stderr)
  const fromLogin = errorOf(login)
  t.equal(fromLogin.code, 'credential_rejected')
  t.match(fromLogin.hint, /clientId and clientSecret/)
  t.same(errorOf(token), fromLogin, 'token reports the same code and hint')
  t.notMatch(login.stdout, /enter the code/, 'no code is shown for a client that is refused')
})

t.test('a scope the domain does not know: login says credential_rejected with the scope hint', async (t) => {
  const { sim, dir } = await setup(t)
  const configPath = await writeSimConfig(dir, sim, {
    scope: 'https://other.example.comurn:opc:resource:consumer::all',
  })
  const login = await cli(['login', '--config', configPath], dir)
  t.equal(login.code, 4, login.stderr)
  t.equal(errorOf(login).code, 'credential_rejected')
  t.match(errorOf(login).hint, /doctor/)
})
