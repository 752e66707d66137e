// Entry point of the simulator: starts a local IDCS + OAC pair for tests and the demo.

import { randomBytes } from 'node:crypto'
import { systemClock } from '../clock.js'
import { signAccessToken } from './access-tokens.js'
import {
  DEFAULT_ACCESS_TOKEN_LIFETIME_S,
  DEFAULT_CLIENT_ID,
  DEFAULT_HOST,
  DEFAULT_PUBLIC_CLIENT_ID,
  DEFAULT_REFRESH_TOKEN_LIFETIME_S,
  DEFAULT_USER,
  SIM_AUDIENCE,
  SIM_SCOPE,
} from './constants.js'
import { SimFaultQueue } from './faults.js'
import { createTrackedServer } from './http-util.js'
import { createIdcsHandler } from './idcs.js'
import { createSigningKeys } from './keys.js'
import { createOacHandler } from './oac.js'
import { RefreshTokenStore } from './refresh-tokens.js'
import { SnapshotStore } from './snapshots.js'
import { cancelTimers, createState } from './state.js'
import type { IssueAccessTokenOptions, Simulator, SimulatorOptions } from './types.js'

export {
  DEFAULT_ACCESS_TOKEN_LIFETIME_S,
  DEFAULT_REFRESH_TOKEN_LIFETIME_S,
  SIM_AUDIENCE,
  SIM_OAC_SCOPE,
  SIM_SCOPE,
} from './constants.js'
export { DOWNLOAD_PATTERN } from './oac-streams.js'
export type {
  Fault,
  FaultQueue,
  IssueAccessTokenOptions,
  SimCall,
  SimStats,
  Simulator,
  SimulatorOptions,
} from './types.js'

function checkLifetime(name: string, seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError(`${name} must be an integer >= 1`)
  return seconds
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

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

  const state = createState(clock)
  const keys = await createSigningKeys()
  const refreshTokens = new RefreshTokenStore((token) => state.issued.refreshTokens.push(token))
  const faults = { idcs: new SimFaultQueue('idcs'), oac: new SimFaultQueue('oac') }
  const urls = { idcsUrl: '', oacUrl: '' }

  const mint = async (o: IssueAccessTokenOptions = {}) => {
    const lifetimeS = o.lifetimeS ?? accessTokenLifetimeS
    const token = await signAccessToken(keys, {
      clientId: o.clientId ?? clientId,
      user: o.user ?? user,
      scope: o.scope ?? SIM_SCOPE,
      lifetimeS,
      nowMs: clock.now(),
    })
    state.issued.accessTokens.push(token)
    return { token, lifetimeS }
  }

  const idcs = createTrackedServer(
    createIdcsHandler({
      state,
      keys,
      clients: { confidential: { clientId, clientSecret }, publicClientId },
      refreshTokens,
      faults: faults.idcs,
      refreshTokenLifetimeS,
      mintAccessToken: mint,
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

  return {
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
    close: closeAll,
  }
}
