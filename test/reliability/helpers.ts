// What the reliability suites share: the long/short switch, part selection, figures and their report lines.
import type { Test } from 'tap'

/** SOAK_LONG=1: the long version (`npm run soak`: 10 min soak, 100 kills); otherwise the short one that runs in CI. */
export const LONG = process.env.SOAK_LONG === '1'

/** Per suite: short ones run side by side in about 70 s; a long one may take up to half an hour. */
export const SUITE_TIMEOUT_MS = LONG ? 1_800_000 : 240_000

// SOAK_PARTS=1,3 runs only those parts (for working on one of them)
const parts = new Set((process.env.SOAK_PARTS ?? '1,2,3,4').split(',').map((p) => p.trim()))

/** Whether SOAK_PARTS leaves out part n (1 soak, 2 IdP faults, 3 SIGKILLs, 4 bad configs). */
export function partSkipped(n: string): boolean {
  return !parts.has(n)
}

export const CATALOG = '/api/20210901/catalog?type=workbooks'
export const SNAPSHOTS = '/api/20210901/snapshots'

/** Prints a figure line both on the console and as a TAP comment. */
export function report(t: Test, line: string): void {
  console.log(line)
  t.comment(line)
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** The value at quantile q (0..1) of already sorted numbers. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}

export function fmt(ms: number, digits = 1): string {
  return `${ms.toFixed(digits)} ms`
}

export function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by)
}

export function histogram(map: Map<string, number>): string {
  return map.size === 0
    ? 'none'
    : [...map]
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')
}
