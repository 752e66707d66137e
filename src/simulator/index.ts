// Entry point of the simulator: starts a local IDCS + OAC pair for tests and the demo.

import { randomBytes } from 'node:crypto'
import { systemClock } from '../shared/clock.js'
import { signAccessToken } from './access-tokens.js'
import { AuthorizationCodes } from './idcs/authorization-codes.js'
import type { AuthorizeState } from './idcs/authorization-codes.js'
import { ClientKeyRegistry } from './idcs/client-keys.js'
import {
  DEFAULT_ACCESS_TOKEN_LIFETIME_S,
  DEFAULT_CLIENT_ID,
  DEFAULT_DEVICE_CODE_LIFETIME_S,
  DEFAULT_HOST,
  DEFAULT_PUBLIC_CLIENT_ID,
  DEFAULT_REDIRECT_URIS,
  DEFAULT_REFRESH_TOKEN_LIFETIME_S,
  DEFAULT_USER,
  DEFAULT_USER_PASSWORD,
  FEDERATED_USER,
  IDCS_ADMIN_SCOPE,
  MIN_DEVICE_INTERVAL_S,
  SIM_AUDIENCE,
  SIM_SCOPE,
} from './constants.js'
import { DeviceStore } from './idcs/device.js'
import { Directory } from './idcs/directory.js'
import { SimFaultQueue } from './faults.js'
import { createTrackedServer } from './http-util.js'
import { createIdcsHandler } from './idcs/server.js'
import { AdminApps } from './idcs/admin-apps.js'
import type { MintRequest } from './idcs/deps.js'
import { createSigningKeys } from './keys.js'
import { createOacHandler } from './oac/server.js'
import { RefreshTokenStore } from './idcs/refresh-tokens.js'
import { SnapshotStore } from './oac/snapshots.js'
import { cancelTimers, createState } from './state.js'
import type { IssueAccessTokenOptions, Simulator, SimulatorOptions } from './types.js'

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

function checkLifetime(name: string, seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError(`${name} must be an integer >= 1`)
  return seconds
}

function checkRedirectUris(uris: readonly string[]): string[] {
  for (const uri of uris) {
    if (!URL.canParse(uri)) throw new TypeError(`redirect URI is not a URL: ${uri}`)
  }
  return [...uris]
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** Every simulator started in this process (the test suite scans its logs for their tokens). */
export const startedSimulators = new Set<Simulator>()

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const host = options.host ?? DEFAULT_HOST
  const clock = options.clock ?? systemClock
  const clientId = options.clientId ?? DEFAULT_CLIENT_ID
  const clientSecret = options.clientSecret ?? randomBytes(18).toString('base64url')
  const publicClientId = options.publicClientId ?? DEFAULT_PUBLIC_CLIENT_ID
  const user = options.user ?? DEFAULT_USER
  const refreshTokenLifetimeS = checkLifetime(
    'refreshTokenLifetimeS',
    options.refreshTokenLifetimeS ?? DEFAULT_REFRESH_TOKEN_LIFETIME_S,
  )
  let accessTokenLifetimeS = checkLifetime(
    'accessTokenLifetimeS',
    options.accessTokenLifetimeS ?? DEFAULT_ACCESS_TOKEN_LIFETIME_S,
  )

  const deviceLifetimeS = checkLifetime(
    'deviceCodeLifetimeS',
    options.deviceCodeLifetimeS ?? DEFAULT_DEVICE_CODE_LIFETIME_S,
  )
  const deviceIntervalS =
    options.deviceIntervalS === undefined ? undefined : checkLifetime('deviceIntervalS', options.deviceIntervalS)
  const users = options.users ?? {
    [user]: { password: DEFAULT_USER_PASSWORD },
    [FEDERATED_USER]: { federated: true },
  }

  const state = createState(clock)
  const keys = await createSigningKeys()
  const refreshTokens = new RefreshTokenStore((token) => state.issued.refreshTokens.push(token))
  const faults = { idcs: new SimFaultQueue('idcs'), oac: new SimFaultQueue('oac') }
  const urls = { idcsUrl: '', oacUrl: '' }
  const clients = { confidential: { clientId, clientSecret }, publicClientId }
  const directory = new Directory(users, clients)
  const clientKeys = new ClientKeyRegistry()
  const devices = new DeviceStore(clock, deviceLifetimeS, deviceIntervalS ?? MIN_DEVICE_INTERVAL_S)
  const authorize: AuthorizeState = {
    codes: new AuthorizationCodes(clock),
    behaviour: { action: 'approve' },
    defaultUser: user,
    redirectUris: checkRedirectUris(options.redirectUris ?? DEFAULT_REDIRECT_URIS),
    loopbackAnyPort: options.loopbackAnyPort ?? true,
  }
  const knownUser = (name: string): string => {
    if (!directory.hasUser(name) && name !== user) throw new Error(`unknown user: ${name}`)
    return name
  }

  const mint = async (o: IssueAccessTokenOptions & Partial<MintRequest> = {}) => {
    const lifetimeS = o.lifetimeS ?? accessTokenLifetimeS
    const token = await signAccessToken(keys, {
      clientId: o.clientId ?? clientId,
      user: o.user ?? user,
      scope: o.scope ?? SIM_SCOPE,
      lifetimeS,
      nowMs: clock.now(),
      subType: o.subType,
      idcsUrl: urls.idcsUrl,
    })
    state.issued.accessTokens.push(token)
    return { token, lifetimeS }
  }

  const idcs = createTrackedServer(
    createIdcsHandler({
      state,
      keys,
      clients,
      refreshTokens,
      faults: faults.idcs,
      refreshTokenLifetimeS,
      mintAccessToken: mint,
      directory,
      clientKeys,
      devices,
      deviceIntervalS,
      authorize,
      apps: new AdminApps(clock.now()),
      urls,
    }),
  )
  const oac = createTrackedServer(
    createOacHandler({
      state,
      keys,
      audience: SIM_AUDIENCE,
      faults: faults.oac,
      snapshots: new SnapshotStore(clock),
      urls,
    }),
  )

  const closeAll = async () => {
    cancelTimers(state)
    await Promise.all([idcs.close(), oac.close()])
  }
  try {
    urls.idcsUrl = urlOf(host, await idcs.listen(host, options.idcsPort ?? 0))
    urls.oacUrl = urlOf(host, await oac.listen(host, options.oacPort ?? 0))
  } catch (err) {
    await closeAll()
    throw err
  }

  const sim: Simulator = {
    idcsUrl: urls.idcsUrl,
    oacUrl: urls.oacUrl,
    clientId,
    clientSecret,
    publicClientId,
    audience: SIM_AUDIENCE,
    scope: SIM_SCOPE,
    user,
    calls: state.calls,
    faults,
    issued: state.issued,
    issueRefreshToken(opts = {}) {
      return refreshTokens.issue({
        clientId: opts.clientId ?? clientId,
        user: opts.user ?? user,
        scope: opts.scope ?? SIM_SCOPE,
        expiresAtMs: clock.now() + refreshTokenLifetimeS * 1000,
      })
    },
    async issueAccessToken(opts) {
      return (await mint(opts)).token
    },
    stats: () => ({ ...state.stats }),
    setAccessTokenLifetime(seconds) {
      accessTokenLifetimeS = checkLifetime('accessTokenLifetimeS', seconds)
    },
    idcsAdminScope: IDCS_ADMIN_SCOPE,
    deviceRequests: () => devices.list(),
    approveDevice(userCode, approver = user) {
      devices.decide(userCode, { approve: true, user: knownUser(approver) })
    },
    denyDevice(userCode) {
      devices.decide(userCode, { approve: false })
    },
    setAuthorizeBehaviour(b) {
      if (b.action === 'approve' && b.user !== undefined) knownUser(b.user)
      authorize.behaviour = { ...b }
    },
    registerClientKey(opts) {
      const owner = opts.clientId ?? clientId
      if (!directory.isKnownClient(owner)) throw new Error(`unknown client: ${owner}`)
      clientKeys.register(owner, opts)
    },
    setClientGrants(id, grants) {
      directory.setGrants(id, grants)
    },
    close: closeAll,
  }
  startedSimulators.add(sim)
  return sim
}
