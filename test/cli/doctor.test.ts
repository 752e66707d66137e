// doctor's scope check against the simulator: a wrong audience or a missing offline_access fails and shows the scope to use.
import t from 'tap'
import { checkScope, type Discovery } from '../../src/cli/doctor.js'
import { runCli, simulatorFor, type CliResult } from '../helpers/cli-run.js'
import { writeSimConfig } from '../helpers.js'

const scopeLine = (r: CliResult): string | undefined => r.stdout.split('\n').find((l) => / scope: /.test(l))

t.test('doctor against the simulator', async (t) => {
  const sim = await simulatorFor(t)

  await t.test('a scope with another audience is a failure that shows the discovered scope', async (t) => {
    const dir = t.testdir()
    const wrong = sim.scope.replace(/^https:\/\/[^/]+?(?=urn:)/, 'https://otherhash.analytics.ocp.oraclecloud.com')
    t.not(wrong, sim.scope)
    const configPath = await writeSimConfig(dir, sim, { scope: wrong })
    const r = await runCli(['doctor', '--config', configPath], { cwd: dir, timeoutMs: 30_000 })
    t.equal(r.code, 1, r.stdout)
    const line = scopeLine(r)
    t.match(line, /^\[FAIL\] scope: /)
    t.match(line, 'otherhash')
    t.match(line, `use scope: "${sim.scope}"`)
    t.match(r.stdout, /^1 check\(s\) failed$/m)
  })

  await t.test('a scope without offline_access shows the corrected scope', async (t) => {
    const dir = t.testdir()
    const configPath = await writeSimConfig(dir, sim, { scope: sim.scope.replace(/\s*offline_access/, '') })
    const r = await runCli(['doctor', '--config', configPath], { cwd: dir, timeoutMs: 30_000 })
    t.equal(r.code, 1)
    t.match(scopeLine(r), /^\[FAIL\] scope: .*offline_access/)
    t.match(scopeLine(r), `use scope: "${sim.scope}"`)
  })
})

t.test('checkScope without discovery adds offline_access and keeps other scopes', async (t) => {
  const consumer = 'https://abc.analytics.ocp.oraclecloud.comurn:opc:resource:consumer::all'
  t.same(checkScope(`${consumer} offline_access`, 'refresh_token', undefined), {
    result: 'ok',
    detail: `${consumer} offline_access`,
  })
  t.match(checkScope(`${consumer} extra`, 'refresh_token', undefined), {
    result: 'fail',
    detail: new RegExp(`use scope: "${consumer} extra offline_access"$`),
  })
  t.same(checkScope(consumer, 'jwt_bearer', undefined).result, 'ok', 'no refresh token needed for jwt_bearer')
  const found: Discovery = {
    idcsUrl: 'https://idcs.example.com',
    appName: 'ANALYTICSINST_xyz',
    audience: 'https://xyz.analytics.ocp.oraclecloud.com',
    scope: 'https://xyz.analytics.ocp.oraclecloud.comurn:opc:resource:consumer::all offline_access',
  }
  t.match(checkScope(`${consumer} offline_access`, 'refresh_token', found), {
    result: 'fail',
    detail:
      /differs from the one OAC uses, https:\/\/xyz\.analytics\.ocp\.oraclecloud\.com; use scope: "https:\/\/xyz\./,
  })
  t.match(checkScope('offline_access', 'refresh_token', undefined), {
    result: 'fail',
    detail: /could not be discovered/,
  })
})

t.test('doctor with neither a config nor --oac-url says what to pass', async (t) => {
  const r = await runCli(['doctor'], { cwd: t.testdir(), timeoutMs: 30_000 })
  t.equal(r.code, 1)
  t.match(r.stdout, /^\[FAIL\] configuration: [^]*no config file was given/m)
  t.match(r.stdout, /^\[warn\] next step: pass --config FILE, or --oac-url URL/m)
})
