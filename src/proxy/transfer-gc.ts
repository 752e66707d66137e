// Large bodies leave their buffers behind. Every socket read is a new buffer of up to 64 KB; once forwarded it is
// garbage, but V8 frees it only when its young generation fills (a 2 MB one holds the small handles of thousands
// of them) or when external memory has grown by tens of MB. At hundreds of MB/s that kept 30-70 MB of dead
// buffers in the proxy during a transfer (bench/footprint.mjs on Node 26). While a streamed body is in flight,
// this looks every few milliseconds at the memory held by array buffers and runs a minor collection (a
// scavenge: well under a millisecond with the 2 MB young generation) once it grew by `thresholdBytes`.
// V8 offers that collection only as the `gc` function of --expose-gc (in the image's, the unit's and the
// command's V8 flags); without it nothing is watched.

import type { ServerResponse } from 'node:http'

type Collect = () => void

export interface TransferGcOptions {
  /** How often the memory is looked at while a transfer runs. */
  intervalMs?: number
  /** Growth of array-buffer memory since the last look-and-collect that triggers a collection. */
  thresholdBytes?: number
  /** Bytes held by array buffers (process.memoryUsage().arrayBuffers). */
  arrayBuffers?: () => number
  /** Runs a minor collection; undefined when the runtime offers none. */
  collect?: Collect | undefined
}

/** The minor collection of --expose-gc, or undefined when the process runs without that flag. */
export function exposedMinorGc(): Collect | undefined {
  const gc = (globalThis as { gc?: (options?: { type: 'minor' | 'major' }) => void }).gc
  return typeof gc === 'function' ? () => gc({ type: 'minor' }) : undefined
}

export class TransferGc {
  readonly #intervalMs: number
  readonly #thresholdBytes: number
  readonly #arrayBuffers: () => number
  readonly #collect: Collect | undefined
  #inFlight = 0
  #timer: NodeJS.Timeout | undefined
  #base = 0
  /** Minor collections run so far. */
  collections = 0

  constructor(options: TransferGcOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 5
    this.#thresholdBytes = options.thresholdBytes ?? 16 * 2 ** 20
    this.#arrayBuffers = options.arrayBuffers ?? (() => process.memoryUsage().arrayBuffers)
    this.#collect = 'collect' in options ? options.collect : exposedMinorGc()
  }

  /** Whether collections can run at all (the runtime exposes gc). */
  get enabled(): boolean {
    return this.#collect !== undefined
  }

  /** Transfers in flight. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** A streamed body starts; the returned function ends it (calling it again does nothing). */
  begin(): () => void {
    if (!this.#collect) return () => {}
    this.#inFlight++
    if (this.#inFlight === 1) {
      this.#base = this.#arrayBuffers()
      this.#timer = setInterval(() => this.#look(), this.#intervalMs)
      this.#timer.unref()
    }
    let ended = false
    return () => {
      if (ended) return
      ended = true
      this.#inFlight--
      if (this.#inFlight === 0) {
        clearInterval(this.#timer)
        this.#timer = undefined
      }
    }
  }

  #look(): void {
    const held = this.#arrayBuffers()
    if (held - this.#base < this.#thresholdBytes) {
      // what stays after a collection (live buffers) is the new base; it only ever moves down here
      if (held < this.#base) this.#base = held
      return
    }
    ;(this.#collect as Collect)()
    this.collections++
    this.#base = this.#arrayBuffers()
  }
}

/** A streamed body is in flight until its exchange's answer is sent or the caller is gone. */
export function streamedUntilClose(response: ServerResponse, gc: TransferGc): void {
  const end = gc.begin()
  if (response.destroyed || response.writableFinished) end()
  else response.once('close', end)
}
