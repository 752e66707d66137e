// Signals in the commands: a login waiting for its sign-in turns SIGINT/SIGTERM into an exit code for the entry.
import t from 'tap'
import { EXIT } from '../../src/cli/exit-codes.js'
import { Interrupted, listenForInterruption } from '../../src/cli/signals.js'

for (const [signal, code] of [
  ['SIGINT', EXIT.interrupted],
  ['SIGTERM', EXIT.terminated],
] as const) {
  t.test(`${signal}: the handler runs first, then the wait rejects with exit code ${code}`, async (t) => {
    const before = { int: process.listenerCount('SIGINT'), term: process.listenerCount('SIGTERM') }
    const seen: string[] = []
    const interruption = listenForInterruption((s) => seen.push(s))
    t.teardown(() => interruption.stop())
    t.equal(process.listenerCount(signal), (signal === 'SIGINT' ? before.int : before.term) + 1, 'listening')
    process.emit(signal, signal)
    const err = await interruption.signalled.then(
      () => undefined,
      (e: unknown) => e,
    )
    t.same(seen, [signal], 'the handler ran once, with the signal')
    t.ok(err instanceof Interrupted)
    t.equal((err as Interrupted).exitCode, code)
    t.equal((err as Interrupted).signal, signal)
  })
}

t.test('stop() removes both listeners; a later signal no longer reaches the handler', async (t) => {
  const before = { int: process.listenerCount('SIGINT'), term: process.listenerCount('SIGTERM') }
  let calls = 0
  const interruption = listenForInterruption(() => calls++)
  interruption.stop()
  t.equal(process.listenerCount('SIGINT'), before.int)
  t.equal(process.listenerCount('SIGTERM'), before.term)
  // with no other listener, the test runner's exit handler would take the emitted signal as real and stop the run
  const keep = (): void => {}
  process.on('SIGINT', keep)
  t.teardown(() => process.off('SIGINT', keep))
  process.emit('SIGINT', 'SIGINT')
  t.equal(calls, 0)
})
