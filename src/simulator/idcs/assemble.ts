// Assembles the simulated IDCS: its stores, the access-token minter, the request handler and the test controls.

import type { IncomingMessage, ServerResponse } from 'node:http'
import { signAccessToken } from '../access-tokens.js'
import { MIN_DEVICE_INTERVAL_S, SIM_SCOPE } from '../constants.js'
import type { SimFaultQueue } from '../faults.js'
import type { SigningKeys } from '../keys.js'
import { checkLifetime } from '../settings.js'
import type { SimSettings } from '../settings.js'
import type { SimState } from '../state.js'
import type { IssueAccessTokenOptions, Simulator } from '../types.js'
import { AdminApps } from './admin-apps.js'
import { AuthorizationCodes } from './authorization-codes.js'
import { ClientKeyRegistry } from './client-keys.js'
import type { IdcsDeps, MintRequest } from './deps.js'
import { DeviceStore } from './device.js'
import { Directory } from './directory.js'
import { RefreshTokenStore } from './refresh-tokens.js'
import { createIdcsHandler } from './server.js'

/** What the simulator's two servers share with IDCS. */
export interface IdcsShared {
  state: SimState
  keys: SigningKeys
  faults: SimFaultQueue
  urls: { idcsUrl: string }
}

/** The parts of the simulator handle that drive IDCS from a test. */
export type IdcsControls = Pick<
  Simulator,
  | 'issueRefreshToken'
  | 'issueAccessToken'
  | 'setAccessTokenLifetime'
  | 'deviceRequests'
  | 'approveDevice'
  | 'denyDevice'
  | 'setAuthorizeBehaviour'
  | 'registerClientKey'
  | 'setClientGrants'
>

export interface Idcs {
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>
  controls: IdcsControls
}

type Mint = (o?: IssueAccessTokenOptions & Partial<MintRequest>) => Promise<{ token: string; lifetimeS: number }>

/** Signs access tokens with the current lifetime (changeable by a test) and records each as issued. */
function createMinter(settings: SimSettings, shared: IdcsShared, lifetime: { accessTokenS: number }): Mint {
  return async (o = {}) => {
    const lifetimeS = o.lifetimeS ?? lifetime.accessTokenS
    const token = await signAccessToken(shared.keys, {
      clientId: o.clientId ?? settings.clientId,
      user: o.user ?? settings.user,
      scope: o.scope ?? SIM_SCOPE,
      lifetimeS,
      nowMs: settings.clock.now(),
      subType: o.subType,
      idcsUrl: shared.urls.idcsUrl,
    })
    shared.state.issued.accessTokens.push(token)
    return { token, lifetimeS }
  }
}

function createDeps(settings: SimSettings, shared: IdcsShared, mint: Mint): IdcsDeps {
  const { clock } = settings
  const clients = {
    confidential: { clientId: settings.clientId, clientSecret: settings.clientSecret },
    publicClientId: settings.publicClientId,
  }
  return {
    state: shared.state,
    keys: shared.keys,
    clients,
    refreshTokens: new RefreshTokenStore((token) => shared.state.issued.refreshTokens.push(token)),
    faults: shared.faults,
    refreshTokenLifetimeS: settings.refreshTokenLifetimeS,
    mintAccessToken: mint,
    directory: new Directory(settings.users, clients),
    clientKeys: new ClientKeyRegistry(),
    devices: new DeviceStore(clock, settings.deviceLifetimeS, settings.deviceIntervalS ?? MIN_DEVICE_INTERVAL_S),
    deviceIntervalS: settings.deviceIntervalS,
    authorize: {
      codes: new AuthorizationCodes(clock),
      behaviour: { action: 'approve' },
      defaultUser: settings.user,
      redirectUris: settings.redirectUris,
      loopbackAnyPort: settings.loopbackAnyPort,
    },
    apps: new AdminApps(clock.now()),
    urls: shared.urls,
  }
}

function createControls(
  settings: SimSettings,
  deps: IdcsDeps,
  mint: Mint,
  lifetime: { accessTokenS: number },
): IdcsControls {
  const { clientId, user, clock } = settings
  const { devices, directory } = deps
  const knownUser = (name: string): string => {
    if (!directory.hasUser(name) && name !== user) throw new Error(`unknown user: ${name}`)
    return name
  }
  return {
    issueRefreshToken(opts = {}) {
      return deps.refreshTokens.issue({
        clientId: opts.clientId ?? clientId,
        user: opts.user ?? user,
        scope: opts.scope ?? SIM_SCOPE,
        expiresAtMs: clock.now() + settings.refreshTokenLifetimeS * 1000,
      })
    },
    async issueAccessToken(opts) {
      return (await mint(opts)).token
    },
    setAccessTokenLifetime(seconds) {
      lifetime.accessTokenS = checkLifetime('accessTokenLifetimeS', seconds)
    },
    deviceRequests: () => devices.list(),
    approveDevice(userCode, approver = user) {
      devices.decide(userCode, { approve: true, user: knownUser(approver) })
    },
    denyDevice(userCode) {
      devices.decide(userCode, { approve: false })
    },
    setAuthorizeBehaviour(b) {
      if (b.action === 'approve' && b.user !== undefined) knownUser(b.user)
      deps.authorize.behaviour = { ...b }
    },
    registerClientKey(opts) {
      const owner = opts.clientId ?? clientId
      if (!directory.isKnownClient(owner)) throw new Error(`unknown client: ${owner}`)
      deps.clientKeys.register(owner, opts)
    },
    setClientGrants(id, grants) {
      directory.setGrants(id, grants)
    },
  }
}

export function assembleIdcs(settings: SimSettings, shared: IdcsShared): Idcs {
  const lifetime = { accessTokenS: settings.accessTokenLifetimeS }
  const mint = createMinter(settings, shared, lifetime)
  const deps = createDeps(settings, shared, mint)
  return { handler: createIdcsHandler(deps), controls: createControls(settings, deps, mint, lifetime) }
}
