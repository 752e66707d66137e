// Ctrl-C during login says what happened and releases the state lock; a start that takes over a stale lock says so.
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { simulatorFor, tempFolder } from '../helpers/cli-run.js'
import { CLI, spawnProxy, waitFor, writeSimConfig } from '../helpers.js'

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', ''])
  return r.pid as number
}

/** The built CLI with `args`, its output collected; `stop` sends a signal and resolves the exit code. */
function runUntilSignal(t: Test, args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let stderr = ''
  let stdout = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  const exited = once(child, 'exit')
  return {
    stderr: () => stderr,
    stdout: () => stdout,
    async stop(signal: NodeJS.Signals): Promise<number | null> {
      child.kill(signal)
      const [code] = (await exited) as [number | null]
      return code
    },
  }
}

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  t.test(
    `${signal} while login waits: a message, exit ${code}, the lock removed, the state file untouched`,
    async (t) => {
      const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
      const dir = tempFolder(t)
      const config = await writeSimConfig(dir, sim)
      const run = runUntilSignal(t, ['login', '--config', config, '--device'])
      await waitFor(
        () => sim.stats().tokenCalls > 0 || /user_?code|enter the code/i.test(run.stderr() + run.stdout()),
        10_000,
        'the device code',
      )
      t.ok(existsSync(join(dir, 'state.json.lock')), 'login holds the lock while it waits')
      const exitCode = await run.stop(signal)
      t.equal(exitCode, code)
      t.match(run.stderr(), /login cancelled/)
      t.notOk(existsSync(join(dir, 'state.json.lock')), 'the lock file is removed')
      t.notOk(existsSync(join(dir, 'state.json')), 'no state file written')
    },
  )
}

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  t.test(
    `${signal} while token waits for the identity domain: a message, exit ${code}, the lock removed`,
    async (t) => {
      const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
      sim.faults.idcs.always({ kind: 'hang' })
      const dir = tempFolder(t)
      const config = await writeSimConfig(dir, sim)
      const run = runUntilSignal(t, ['token', '--config', config])
      await waitFor(() => sim.stats().tokenCalls > 0, 10_000, 'the token call')
      t.ok(existsSync(join(dir, 'state.json.lock')), 'token holds the lock while it waits')
      const exitCode = await run.stop(signal)
      t.equal(exitCode, code)
      t.match(
        run.stderr(),
        /^oac-token-proxy: cancelled \(.+\) while waiting for the identity provider at \S+ to answer a refresh/m,
      )
      t.match(run.stderr(), /oac-token-proxy login/, 'says what to do if the refresh token was rotated meanwhile')
      t.equal(run.stdout(), '', 'no token printed')
      t.notOk(existsSync(join(dir, 'state.json.lock')), 'the lock file is removed')
      t.notOk(existsSync(join(dir, 'state.json')), 'no state file written')
    },
  )
}

t.test('serve that takes over the lock of a process that is gone logs a takeover line naming it', async (t) => {
  const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
  const dir = tempFolder(t)
  const config = await writeSimConfig(dir, sim)
  const pid = deadPid()
  writeFileSync(join(dir, 'state.json.lock'), JSON.stringify({ pid, hostname: hostname(), startedAtMs: Date.now() }), {
    mode: 0o600,
  })
  const proxy = await spawnProxy(t, config)
  const line = proxy.lines.find((l) => l.event === 'state.lock_taken_over')
  t.ok(line, 'a takeover line')
  t.equal(line?.stalePid, pid)
  t.equal(line?.level, 'warn')
  proxy.child.kill('SIGTERM')
  t.equal(await proxy.exited, 0)
})

t.test('a start on a lock-free state file logs no takeover', async (t) => {
  const sim = await simulatorFor(t, { accessTokenLifetimeS: 100 })
  const dir = tempFolder(t)
  const proxy = await spawnProxy(t, await writeSimConfig(dir, sim))
  t.notOk(proxy.lines.some((l) => l.event === 'state.lock_taken_over'))
})
