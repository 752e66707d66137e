// Test helper: FleetRefreshers as in-process replicas, each on its own store connection, against the simulator's IDCS.
import type { Test } from 'tap'
import { Agent } from 'undici'
import type { FakeClock } from '../../src/shared/clock.js'
import { Secret } from '../../src/shared/secret.js'
import type { Grant } from '../../src/oauth/types.js'
import type { TokenEndpoint } from '../../src/oauth/token-endpoint.js'
import { FleetRefresher } from '../../src/token/fleet.js'
import type { CredentialStore } from '../../src/token/store/redis/index.js'
import type { Simulator } from '../../src/simulator/index.js'
import type { LogCapture } from '../helpers.js'

/** The simulator's token endpoint with its confidential client, on an agent closed in teardown. */
export function simEndpoint(t: Test, sim: Simulator): TokenEndpoint {
  const dispatcher = new Agent()
  t.teardown(() => dispatcher.close())
  return {
    idcsUrl: sim.idcsUrl,
    clientAuth: {
      method: 'client_secret_basic',
      clientId: sim.clientId,
      clientSecret: new Secret(sim.clientSecret, 'test'),
    },
    timeoutMs: 5_000,
    dispatcher,
  }
}

/** A replica: a stored token with more than 10 s left is adopted, anything else refreshed; stopped in teardown. */
export function testRefresher(
  t: Test,
  store: CredentialStore,
  grant: Grant,
  deps: { logs: LogCapture; clock: FakeClock; lockWaitMs?: number },
): FleetRefresher {
  const replica = new FleetRefresher({
    store,
    grant,
    log: deps.logs.logger(),
    clock: deps.clock,
    lifetimeOf: (set) => set.expiresInS * 1000,
    fresh: (expiresAtMs) => expiresAtMs - deps.clock.now() > 10_000,
    lockWaitMs: deps.lockWaitMs ?? 5_000,
  })
  t.teardown(() => replica.stop())
  return replica
}
