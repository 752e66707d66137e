// What the simulated IDCS endpoints are given: stores, keys, faults and the access-token minter.

import type { AdminApps } from './admin-apps.js'
import type { AuthorizeState } from './authorization-codes.js'
import type { RegisteredClients } from './client-auth.js'
import type { ClientKeyRegistry } from './client-keys.js'
import type { DeviceStore } from './device.js'
import type { Directory } from './directory.js'
import type { SimFaultQueue } from '../faults.js'
import type { SigningKeys } from '../keys.js'
import type { RefreshTokenStore } from './refresh-tokens.js'
import type { SimState } from '../state.js'

export interface MintRequest {
  clientId: string
  user: string
  scope: string
  subType?: 'user' | 'client'
}

export interface IdcsDeps {
  state: SimState
  keys: SigningKeys
  clients: RegisteredClients
  refreshTokens: RefreshTokenStore
  faults: SimFaultQueue
  refreshTokenLifetimeS: number
  /** Sign an access token and record it as issued. */
  mintAccessToken(r: MintRequest): Promise<{ token: string; lifetimeS: number }>
  /** The rest is needed by the grants beyond refresh_token; all are set by startSimulator. */
  directory: Directory
  clientKeys: ClientKeyRegistry
  devices: DeviceStore
  /** Sent as `interval` by the device endpoint when set. */
  deviceIntervalS?: number
  authorize: AuthorizeState
  apps: AdminApps
  urls: { idcsUrl: string }
}
