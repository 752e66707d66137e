// Upstream slots per route: at most `max` requests in flight, the others wait in a queue bounded in time.

/** Gives a slot back; calling it more than once is harmless. */
export type Release = () => void

interface Waiter {
  grant: (release: Release) => void
  timer: NodeJS.Timeout
}

export class Slots {
  readonly #max: number
  readonly #waitMs: number
  #busy = 0
  readonly #queue: Waiter[] = []

  constructor(max: number, waitMs: number) {
    this.#max = max
    this.#waitMs = waitMs
  }

  get busy(): number {
    return this.#busy
  }

  get waiting(): number {
    return this.#queue.length
  }

  /** A slot at once, or undefined when all are taken (then call `wait`). */
  tryAcquire(): Release | undefined {
    if (this.#busy >= this.#max) return undefined
    this.#busy++
    return this.#releaser()
  }

  /** Waits for a slot; resolves undefined when none came free within the wait limit. */
  wait(): Promise<Release | undefined> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        grant: resolve,
        timer: setTimeout(() => {
          const i = this.#queue.indexOf(waiter)
          if (i >= 0) this.#queue.splice(i, 1)
          resolve(undefined)
        }, this.#waitMs),
      }
      this.#queue.push(waiter)
    })
  }

  #releaser(): Release {
    let done = false
    return () => {
      if (done) return
      done = true
      const next = this.#queue.shift()
      if (next) {
        // the slot passes straight to the oldest waiter
        clearTimeout(next.timer)
        next.grant(this.#releaser())
      } else this.#busy--
    }
  }
}
