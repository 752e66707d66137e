// Store counters as plain numbers (operations by result, latency, lock waits, announcements), with a hook for exporters.
export type StoreOperation = 'read' | 'write' | 'seed' | 'lock_acquire' | 'lock_renew' | 'lock_release'
export type StoreResult = 'ok' | 'absent' | 'conflict' | 'busy' | 'timeout' | 'lost' | 'error'

export interface OperationSample {
  operation: StoreOperation
  result: StoreResult
  durationMs: number
  /** The error code when result is `error`. */
  errorCode?: string
}

export interface LatencyFigures {
  count: number
  totalMs: number
  maxMs: number
}

export interface StoreMetricsSnapshot {
  /** Keyed `operation:result`, e.g. `write:conflict`. */
  operations: Record<string, number>
  latency: Record<string, LatencyFigures>
  errors: Record<string, number>
  lockWaits: { count: number; totalMs: number }
  announcements: { received: number; malformed: number }
  reconnects: number
}

export class StoreMetrics {
  private readonly operations = new Map<string, number>()
  private readonly latency = new Map<string, LatencyFigures>()
  private readonly errors = new Map<string, number>()
  private readonly observers: Array<(s: OperationSample) => void> = []
  lockWaitCount = 0
  lockWaitTotalMs = 0
  announcementsReceived = 0
  announcementsMalformed = 0
  reconnects = 0

  /** Called for every operation (e.g. to feed a Prometheus histogram later). */
  observe(listener: (s: OperationSample) => void): void {
    this.observers.push(listener)
  }

  record(sample: OperationSample): void {
    const key = `${sample.operation}:${sample.result}`
    this.operations.set(key, (this.operations.get(key) ?? 0) + 1)
    const l = this.latency.get(sample.operation) ?? { count: 0, totalMs: 0, maxMs: 0 }
    l.count++
    l.totalMs += sample.durationMs
    l.maxMs = Math.max(l.maxMs, sample.durationMs)
    this.latency.set(sample.operation, l)
    if (sample.errorCode) this.errors.set(sample.errorCode, (this.errors.get(sample.errorCode) ?? 0) + 1)
    for (const o of this.observers) o(sample)
  }

  count(operation: StoreOperation, result: StoreResult): number {
    return this.operations.get(`${operation}:${result}`) ?? 0
  }

  snapshot(): StoreMetricsSnapshot {
    return {
      operations: Object.fromEntries(this.operations),
      latency: Object.fromEntries([...this.latency].map(([k, v]) => [k, { ...v }])),
      errors: Object.fromEntries(this.errors),
      lockWaits: { count: this.lockWaitCount, totalMs: this.lockWaitTotalMs },
      announcements: { received: this.announcementsReceived, malformed: this.announcementsMalformed },
      reconnects: this.reconnects,
    }
  }
}
