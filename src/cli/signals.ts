// SIGINT and SIGTERM in the commands: a long-running command stops on either; a login waiting for its sign-in ends with 130 or 143.
import type { Logger } from '../shared/log.js'
import { EXIT } from './exit-codes.js'

/** Resolves on the first SIGINT or SIGTERM, after logging it: the running command then drains and returns. */
export function waitForSignal(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info({ event: 'proxy.stopping', signal }, `received ${signal}; draining`)
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      resolve()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

/**
 * A command stopped by a signal, carrying its exit code (128 + the signal's number). The entry exits with
 * it at once: work still pending (a poll, a redirect listener) must not keep the process alive.
 */
export class Interrupted extends Error {
  readonly signal: NodeJS.Signals
  readonly exitCode: number
  constructor(signal: NodeJS.Signals) {
    super(`stopped by ${signal}`)
    this.signal = signal
    this.exitCode = signal === 'SIGINT' ? EXIT.interrupted : EXIT.terminated
  }
}

export interface Interruption {
  /** Rejects with Interrupted on the first SIGINT or SIGTERM, after onSignal ran. */
  readonly signalled: Promise<never>
  /** Stops listening (call it once the work is over). */
  stop(): void
}

/** Listens once for SIGINT and SIGTERM while some work runs; race the work against `signalled`. */
export function listenForInterruption(onSignal: (signal: NodeJS.Signals) => void): Interruption {
  let handler: (signal: NodeJS.Signals) => void = () => {}
  const signalled = new Promise<never>((_, reject) => {
    handler = (signal) => {
      onSignal(signal)
      reject(new Interrupted(signal))
    }
  })
  // nobody may be racing it yet (or any more): the rejection is read through the race, not reported as unhandled
  signalled.catch(() => {})
  process.once('SIGINT', handler)
  process.once('SIGTERM', handler)
  return {
    signalled,
    stop() {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}
