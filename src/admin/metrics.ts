// Prometheus metrics (prom-client, own registry): token refreshes, expiry, upstream answers, latency, replays, refusals.
import type { Counter as CounterType, Histogram as HistogramType } from 'prom-client'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from './prom-client.js'
import type { TokenManager } from '../token/manager.js'
import type { TokenStore } from '../token/store/types.js'
import { registerStoreMetrics } from './store-metrics.js'

export { STORE_METRIC_NAMES } from './store-metrics.js'

/** Every metric name, for docs/metrics.md and its test. */
export const METRIC_NAMES = [
  'oac_proxy_token_refreshes_total',
  'oac_proxy_token_refresh_duration_seconds',
  'oac_proxy_access_token_expiry_seconds',
  'oac_proxy_refresh_token_age_seconds',
  'oac_proxy_credential_ready',
  'oac_proxy_upstream_requests_total',
  'oac_proxy_request_duration_seconds',
  'oac_proxy_replays_total',
  'oac_proxy_refused_requests_total',
  'oac_proxy_client_aborts_total',
] as const

export class Metrics {
  readonly registry = new Registry()
  readonly #managers: TokenManager[] = []
  readonly #refreshes = new Counter({
    name: 'oac_proxy_token_refreshes_total',
    help: 'Token refreshes by credential and result (success, failure).',
    labelNames: ['credential', 'result'],
    registers: [this.registry],
  })
  readonly #refreshDuration = new Histogram({
    name: 'oac_proxy_token_refresh_duration_seconds',
    help: 'Time taken by calls to the token endpoint.',
    labelNames: ['credential'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  })
  readonly #upstream = new Counter({
    name: 'oac_proxy_upstream_requests_total',
    help: 'Requests forwarded upstream, by route prefix and upstream status (or "error" when no answer came).',
    labelNames: ['route', 'status'],
    registers: [this.registry],
  })
  readonly #latency = new Histogram({
    name: 'oac_proxy_request_duration_seconds',
    help: 'Time from request to response through the proxy, by route prefix.',
    labelNames: ['route'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registers: [this.registry],
  })
  readonly #replays = new Counter({
    name: 'oac_proxy_replays_total',
    help: 'Requests replayed once after an upstream 401 with a refreshed token.',
    labelNames: ['route'],
    registers: [this.registry],
  })
  readonly #refused = new Counter({
    name: 'oac_proxy_refused_requests_total',
    help: 'Requests refused by the access guards, by error code.',
    labelNames: ['code'],
    registers: [this.registry],
  })

  readonly #clientAborts = new Counter({
    name: 'oac_proxy_client_aborts_total',
    help: 'Requests whose caller closed the connection before the proxy answered (e.g. an aborted upload), by route prefix.',
    labelNames: ['route'],
    registers: [this.registry],
  })

  constructor(now: () => number = Date.now) {
    const managers = this.#managers
    new Gauge({
      name: 'oac_proxy_access_token_expiry_seconds',
      help: 'Seconds until the held access token expires (0 when none is held).',
      labelNames: ['credential'],
      registers: [this.registry],
      collect() {
        for (const m of managers) this.set({ credential: m.name }, (m.status().accessTokenRemainingMs ?? 0) / 1000)
      },
    })
    new Gauge({
      name: 'oac_proxy_refresh_token_age_seconds',
      help: 'Seconds since the current refresh token was received (refresh-token grant only).',
      labelNames: ['credential'],
      registers: [this.registry],
      collect() {
        for (const m of managers) {
          const at = m.status().refreshTokenObtainedAtMs
          if (at !== undefined) this.set({ credential: m.name }, Math.max(0, (now() - at) / 1000))
        }
      },
    })
    new Gauge({
      name: 'oac_proxy_credential_ready',
      help: '1 when the credential holds a usable access token, else 0.',
      labelNames: ['credential'],
      registers: [this.registry],
      collect() {
        for (const m of managers) this.set({ credential: m.name }, m.peek() ? 1 : 0)
      },
    })
    collectDefaultMetrics({ register: this.registry, prefix: 'oac_proxy_' })
  }

  watch(manager: TokenManager): void {
    this.#managers.push(manager)
    manager.on('refreshed', (e) => {
      this.#refreshes.inc({ credential: e.credential, result: 'success' })
      this.#refreshDuration.observe({ credential: e.credential }, e.durationMs / 1000)
    })
    manager.on('refresh_failed', (e) => {
      this.#refreshes.inc({ credential: e.credential, result: 'failure' })
      this.#refreshDuration.observe({ credential: e.credential }, e.durationMs / 1000)
    })
  }

  /** Store operations by result and latency, lock waits, errors, reconnects, adoptions and versions (read at scrape). */
  watchStore(store: TokenStore): void {
    registerStoreMetrics(this.registry, store)
  }

  readonly #upstreamByKey = new Map<string, ReturnType<CounterType['labels']>>()
  readonly #latencyByRoute = new Map<string, ReturnType<HistogramType['labels']>>()

  /** Per-request calls use label children cached by key: no label hashing on the hot path. */
  upstream(route: string, status: number | 'error'): void {
    const key = `${route} ${status}`
    let child = this.#upstreamByKey.get(key)
    if (!child) {
      child = this.#upstream.labels({ route, status: String(status) })
      this.#upstreamByKey.set(key, child)
    }
    child.inc()
  }

  requestDone(route: string, seconds: number): void {
    let child = this.#latencyByRoute.get(route)
    if (!child) {
      child = this.#latency.labels({ route })
      this.#latencyByRoute.set(route, child)
    }
    child.observe(seconds)
  }

  replay(route: string): void {
    this.#replays.inc({ route })
  }

  refused(code: string): void {
    this.#refused.inc({ code })
  }

  clientAborted(route: string): void {
    this.#clientAborts.inc({ route })
  }
}
