// Time source for the token manager and the simulator: real by default, fake in tests.

export type TimerHandle = { readonly id: number } | NodeJS.Timeout

export interface Clock {
  /** Wall-clock time in ms since the epoch (what token `exp` claims are compared with). */
  now(): number
  /** Monotonic ms; does not move with wall-clock changes. Used to detect clock jumps. */
  monotonic(): number
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

interface FakeTimer {
  id: number
  dueMonoMs: number
  fn: () => void
}

/**
 * A clock that only moves when told to. `advance()` moves wall and monotonic
 * time together and fires due timers in order; `jumpWallClock()` moves only
 * the wall clock, as a laptop resuming from sleep does.
 */
export class FakeClock implements Clock {
  #wallMs: number
  #monoMs = 0
  #nextId = 1
  #timers: FakeTimer[] = []

  constructor(startWallMs = Date.UTC(2026, 0, 1)) {
    this.#wallMs = startWallMs
  }

  now(): number {
    return this.#wallMs
  }

  monotonic(): number {
    return this.#monoMs
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: this.#nextId++, dueMonoMs: this.#monoMs + Math.max(0, ms), fn }
    this.#timers.push(timer)
    return { id: timer.id }
  }

  clearTimeout(handle: TimerHandle): void {
    const id = (handle as { id: number }).id
    this.#timers = this.#timers.filter((t) => t.id !== id)
  }

  get pendingTimers(): number {
    return this.#timers.length
  }

  /** Move time forward by `ms`, firing every timer that falls due, in order. */
  async advance(ms: number): Promise<void> {
    const targetMono = this.#monoMs + ms
    for (;;) {
      const due = this.#timers
        .filter((t) => t.dueMonoMs <= targetMono)
        .sort((a, b) => a.dueMonoMs - b.dueMonoMs || a.id - b.id)[0]
      if (!due) break
      this.#timers = this.#timers.filter((t) => t !== due)
      const step = due.dueMonoMs - this.#monoMs
      this.#monoMs += step
      this.#wallMs += step
      due.fn()
      await settle()
    }
    const rest = targetMono - this.#monoMs
    this.#monoMs += rest
    this.#wallMs += rest
    await settle()
  }

  /** Move only the wall clock (suspend/resume, NTP step). */
  jumpWallClock(ms: number): void {
    this.#wallMs += ms
  }
}

/** Let pending promise callbacks and I/O callbacks run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
