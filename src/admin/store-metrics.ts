// Prometheus metrics of a shared store (Redis): read from the store's counters at each scrape, absent with the state file.
import type { Registry } from 'prom-client'
import { Counter, Gauge } from './prom-client.js'
import type { StoreMetricsSnapshot } from '../token/store/redis/metrics.js'
import type { StoreStatus, TokenStore } from '../token/store/types.js'

/** Metrics a shared store (Redis) adds; absent with the state file. */
export const STORE_METRIC_NAMES = [
  'oac_proxy_store_operations_total',
  'oac_proxy_store_operation_seconds_total',
  'oac_proxy_store_operation_max_seconds',
  'oac_proxy_store_errors_total',
  'oac_proxy_store_lock_waits_total',
  'oac_proxy_store_lock_wait_seconds_total',
  'oac_proxy_store_reconnects_total',
  'oac_proxy_store_adoptions_total',
  'oac_proxy_store_state_version',
] as const

type Values = () => Array<[Record<string, string>, number]>

/** A metric whose values are set from `values` at every scrape. */
function scraped(
  registry: Registry,
  kind: 'counter' | 'gauge',
  name: string,
  help: string,
  labelNames: string[],
  values: Values,
): void {
  const Type = kind === 'counter' ? Counter : Gauge
  new Type({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset()
      for (const [labels, v] of values()) (this as InstanceType<typeof Gauge>).inc(labels, v)
    },
  })
}

export function registerStoreMetrics(registry: Registry, store: TokenStore): void {
  const snapshot = store.metricsSnapshot?.bind(store)
  const describe = store.describe?.bind(store)
  if (!snapshot || !describe) return
  registerOperationMetrics(registry, snapshot)
  const perCredential =
    (pick: (c: NonNullable<StoreStatus['credentials']>[string]) => number): Values =>
    () =>
      Object.entries(describe().credentials ?? {}).map(([credential, c]) => [{ credential }, pick(c)])
  scraped(
    registry,
    'counter',
    'oac_proxy_store_adoptions_total',
    'Tokens this replica adopted from the shared store (refreshed by another replica or a login).',
    ['credential'],
    perCredential((c) => c.adoptions),
  )
  scraped(
    registry,
    'gauge',
    'oac_proxy_store_state_version',
    'The stored state version this replica holds.',
    ['credential'],
    perCredential((c) => c.version),
  )
}

function registerOperationMetrics(registry: Registry, snapshot: () => StoreMetricsSnapshot): void {
  const byOperation =
    (pick: (l: { count: number; totalMs: number; maxMs: number }) => number): Values =>
    () =>
      Object.entries(snapshot().latency).map(([operation, l]) => [{ operation }, pick(l)])
  scraped(
    registry,
    'counter',
    'oac_proxy_store_operations_total',
    'Shared store operations by result.',
    ['operation', 'result'],
    () =>
      Object.entries(snapshot().operations).map(([key, n]) => {
        const [operation = '', result = ''] = key.split(':')
        return [{ operation, result }, n]
      }),
  )
  scraped(
    registry,
    'counter',
    'oac_proxy_store_operation_seconds_total',
    'Time spent in shared store operations.',
    ['operation'],
    byOperation((l) => l.totalMs / 1000),
  )
  scraped(
    registry,
    'gauge',
    'oac_proxy_store_operation_max_seconds',
    'Longest shared store operation so far.',
    ['operation'],
    byOperation((l) => l.maxMs / 1000),
  )
  scraped(registry, 'counter', 'oac_proxy_store_errors_total', 'Shared store errors by code.', ['code'], () =>
    Object.entries(snapshot().errors).map(([code, n]) => [{ code }, n]),
  )
  scraped(
    registry,
    'counter',
    'oac_proxy_store_lock_waits_total',
    "Times a replica waited for another replica's refresh lock.",
    [],
    () => [[{}, snapshot().lockWaits.count]],
  )
  scraped(
    registry,
    'counter',
    'oac_proxy_store_lock_wait_seconds_total',
    'Time spent waiting for the refresh lock.',
    [],
    () => [[{}, snapshot().lockWaits.totalMs / 1000]],
  )
  scraped(registry, 'counter', 'oac_proxy_store_reconnects_total', 'Reconnections to Redis.', [], () => [
    [{}, snapshot().reconnects],
  ])
}
