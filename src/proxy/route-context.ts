// What every proxied route shares: the upstream dispatcher, the config, counters, metrics and the client-abort check.
import type { Dispatcher } from 'undici'
import type { ProxyConfig } from '../config/types.js'
import type { ProxyCounters } from '../admin/counters.js'
import type { Metrics } from '../admin/metrics.js'
import type { ClientAborted } from './client-abort.js'
import type { TransferGc } from './transfer-gc.js'

/** What every route registration shares. */
export interface RouteContext {
  dispatcher: Dispatcher
  config: ProxyConfig
  counters: ProxyCounters
  metrics: Metrics
  /** Records a request whose caller went away (true), or returns false when the caller is still there. */
  clientAborted: ClientAborted
  /** Collects the buffers of streamed bodies as they go. */
  transferGc: TransferGc
}
