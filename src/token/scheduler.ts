// Timers of a token manager: the next refresh (planned or a retry) and the watch for wall-clock jumps.
import type { TokenSettings } from '../config/types.js'
import type { Clock, TimerHandle } from '../shared/clock.js'
import { refreshAtMono, type AccessToken } from './schedule.js'

/** How often the wall clock is compared with the monotonic clock. */
export const CLOCK_CHECK_INTERVAL_MS = 1000

/** The one timer that starts the next refresh, and when it fires. */
export class RefreshTimer {
  /** When the next refresh (planned or retry) starts, on the monotonic clock; undefined: none. */
  nextRefreshAtMono: number | undefined
  #timer: TimerHandle | undefined
  readonly #clock: Clock

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /** Plans the refresh of `token`: after refreshAheadRatio of its lifetime, with jitter (see refreshAtMono). */
  planFor(token: AccessToken, settings: TokenSettings, random: () => number, run: () => void): void {
    const at = refreshAtMono(token, settings, random)
    this.nextRefreshAtMono = at
    this.after(Math.max(0, at - this.#clock.monotonic()), run)
  }

  /** Runs `run` after `delayMs` (the caller clears any timer planned before). */
  after(delayMs: number, run: () => void): void {
    this.#timer = this.#clock.setTimeout(run, delayMs)
  }

  clear(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }
}

/** Compares wall and monotonic progress every CLOCK_CHECK_INTERVAL_MS; a jump (suspend/resume, clock step) is reported. */
export class ClockJumpWatch {
  readonly #clock: Clock
  readonly #clockJumpMs: number
  readonly #onJump: (skewMs: number) => void
  #timer: TimerHandle | undefined
  #lastWall = 0
  #lastMono = 0
  #stopped = false

  constructor(clock: Clock, clockJumpMs: number, onJump: (skewMs: number) => void) {
    this.#clock = clock
    this.#clockJumpMs = clockJumpMs
    this.#onJump = onJump
  }

  start(): void {
    this.#lastWall = this.#clock.now()
    this.#lastMono = this.#clock.monotonic()
    this.#arm()
  }

  stop(): void {
    this.#stopped = true
    if (this.#timer) this.#clock.clearTimeout(this.#timer)
  }

  #arm(): void {
    this.#timer = this.#clock.setTimeout(() => {
      const wall = this.#clock.now()
      const mono = this.#clock.monotonic()
      const skew = wall - this.#lastWall - (mono - this.#lastMono)
      this.#lastWall = wall
      this.#lastMono = mono
      if (Math.abs(skew) > this.#clockJumpMs && !this.#stopped) this.#onJump(skew)
      if (!this.#stopped) this.#arm()
    }, CLOCK_CHECK_INTERVAL_MS)
  }
}

/** `pending`'s outcome, or the error `late()` makes once `leftMs` have passed (the work itself goes on). */
export function waitAtMost<T>(clock: Clock, pending: Promise<T>, leftMs: number, late: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(late()), leftMs)
    pending.then(
      (value) => {
        clock.clearTimeout(timer)
        resolve(value)
      },
      (err: unknown) => {
        clock.clearTimeout(timer)
        reject(err as Error)
      },
    )
  })
}
