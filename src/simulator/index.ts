// Entry point of the simulator: starts a local IDCS + OAC pair for tests and the demo.

import type { IncomingMessage, ServerResponse } from 'node:http'
import { IDCS_ADMIN_SCOPE, SIM_AUDIENCE, SIM_SCOPE } from './constants.js'
import { SimFaultQueue } from './faults.js'
import { createTrackedServer } from './http-util.js'
import { createSigningKeys } from './keys.js'
import type { SigningKeys } from './keys.js'
import { resolveSettings } from './settings.js'
import type { SimSettings } from './settings.js'
import { cancelTimers, createState } from './state.js'
import type { SimState } from './state.js'
import type { Simulator, SimulatorOptions } from './types.js'
import { assembleIdcs } from './idcs/assemble.js'
import type { IdcsControls } from './idcs/assemble.js'
import { createOacHandler } from './oac/server.js'
import { SnapshotStore } from './oac/snapshots.js'

export {
  DEFAULT_ACCESS_TOKEN_LIFETIME_S,
  DEFAULT_DEVICE_CODE_LIFETIME_S,
  DEFAULT_REDIRECT_URIS,
  DEFAULT_REFRESH_TOKEN_LIFETIME_S,
  DEFAULT_USER,
  DEFAULT_USER_PASSWORD,
  FEDERATED_USER,
  IDCS_ADMIN_SCOPE,
  MIN_DEVICE_INTERVAL_S,
  SIM_AUDIENCE,
  SIM_OAC_SCOPE,
  SIM_SCOPE,
} from './constants.js'
export { DOWNLOAD_PATTERN } from './oac/streams.js'
export type {
  AuthorizeBehaviour,
  DeviceRequestStatus,
  DeviceRequestView,
  Fault,
  FaultQueue,
  IssueAccessTokenOptions,
  RegisterClientKeyOptions,
  SimCall,
  SimStats,
  Simulator,
  SimulatorOptions,
  SimUser,
} from './types.js'

type TrackedServer = ReturnType<typeof createTrackedServer>

/** What both servers share: the calls and counters, the signing keys, the fault queues and the base URLs. */
interface Shared {
  state: SimState
  keys: SigningKeys
  faults: { idcs: SimFaultQueue; oac: SimFaultQueue }
  urls: { idcsUrl: string; oacUrl: string }
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

function buildOac(settings: SimSettings, shared: Shared): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return createOacHandler({
    state: shared.state,
    keys: shared.keys,
    audience: SIM_AUDIENCE,
    faults: shared.faults.oac,
    snapshots: new SnapshotStore(settings.clock),
    urls: shared.urls,
  })
}

/** Stops the fault timers, then closes both servers and destroys their open sockets. */
function closerOf(state: SimState, servers: { idcs: TrackedServer; oac: TrackedServer }): () => Promise<void> {
  return async () => {
    cancelTimers(state)
    await Promise.all([servers.idcs.close(), servers.oac.close()])
  }
}

/** Binds IDCS then OAC and records their URLs; if either fails, both are closed and the error is thrown. */
async function listenBoth(
  settings: SimSettings,
  servers: { idcs: TrackedServer; oac: TrackedServer },
  urls: Shared['urls'],
  close: () => Promise<void>,
): Promise<void> {
  try {
    urls.idcsUrl = urlOf(settings.host, await servers.idcs.listen(settings.host, settings.idcsPort))
    urls.oacUrl = urlOf(settings.host, await servers.oac.listen(settings.host, settings.oacPort))
  } catch (err) {
    await close()
    throw err
  }
}

/** The handle a test or the demo holds: addresses, credentials, records, faults and the IDCS controls. */
function handleOf(
  settings: SimSettings,
  shared: Shared,
  controls: IdcsControls,
  close: () => Promise<void>,
): Simulator {
  const { state } = shared
  return {
    idcsUrl: shared.urls.idcsUrl,
    oacUrl: shared.urls.oacUrl,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    publicClientId: settings.publicClientId,
    audience: SIM_AUDIENCE,
    scope: SIM_SCOPE,
    user: settings.user,
    calls: state.calls,
    faults: shared.faults,
    issued: state.issued,
    stats: () => ({ ...state.stats }),
    idcsAdminScope: IDCS_ADMIN_SCOPE,
    ...controls,
    close,
  }
}

/** Every simulator started in this process (the test suite scans its logs for their tokens). */
export const startedSimulators = new Set<Simulator>()

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const settings = resolveSettings(options)
  const shared: Shared = {
    state: createState(settings.clock),
    keys: await createSigningKeys(),
    faults: { idcs: new SimFaultQueue('idcs'), oac: new SimFaultQueue('oac') },
    urls: { idcsUrl: '', oacUrl: '' },
  }
  const idcs = assembleIdcs(settings, { ...shared, faults: shared.faults.idcs })
  const servers = { idcs: createTrackedServer(idcs.handler), oac: createTrackedServer(buildOac(settings, shared)) }
  const close = closerOf(shared.state, servers)
  await listenBoth(settings, servers, shared.urls, close)
  const sim = handleOf(settings, shared, idcs.controls, close)
  startedSimulators.add(sim)
  return sim
}
