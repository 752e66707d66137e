// A live "waiting for ..." line on stderr while a command waits on the network; only on a terminal.

/** How long a wait goes unremarked: most answers come well before. */
export const PROGRESS_AFTER_MS = 1000

export interface ProgressOptions {
  /** Where the line goes; it is drawn only when this is a terminal. Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean }
  /** The longest the wait can last, shown so the user knows when it gives up. */
  limitMs?: number
  afterMs?: number
}

/**
 * Shows `waiting for WHAT: N s` (updated each second, erased when done) while `promise` is
 * pending, once it took longer than `afterMs`. Resolves or rejects as `promise` does.
 */
export async function withProgress<T>(what: string, promise: Promise<T>, options: ProgressOptions = {}): Promise<T> {
  const stream = options.stream ?? process.stderr
  if (!stream.isTTY) return promise
  const startedMs = Date.now()
  const limit = options.limitMs === undefined ? '' : ` (gives up after ${Math.round(options.limitMs / 1000)} s)`
  let drawn = false
  const draw = (): void => {
    drawn = true
    const s = Math.round((Date.now() - startedMs) / 1000)
    stream.write(`\r\x1b[K  waiting for ${what}: ${s} s${limit}`)
  }
  let timer: NodeJS.Timeout | undefined = setTimeout(function tick() {
    draw()
    timer = setTimeout(tick, 1000)
  }, options.afterMs ?? PROGRESS_AFTER_MS)
  try {
    return await promise
  } finally {
    clearTimeout(timer)
    if (drawn) stream.write('\r\x1b[K')
  }
}

/** "the identity provider at HOST", for a progress line. */
export function idpName(idcsUrl: string): string {
  return `the identity provider at ${new URL(idcsUrl).host}`
}
