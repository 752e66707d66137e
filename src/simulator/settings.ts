// The simulator's options resolved once: defaults applied, lifetimes and redirect URIs checked.

import { randomBytes } from 'node:crypto'
import { systemClock } from '../shared/clock.js'
import type { Clock } from '../shared/clock.js'
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
} from './constants.js'
import type { SimUser, SimulatorOptions } from './types.js'

export interface SimSettings {
  host: string
  idcsPort: number
  oacPort: number
  clock: Clock
  clientId: string
  clientSecret: string
  publicClientId: string
  user: string
  users: Record<string, SimUser>
  refreshTokenLifetimeS: number
  accessTokenLifetimeS: number
  deviceLifetimeS: number
  deviceIntervalS: number | undefined
  redirectUris: string[]
  loopbackAnyPort: boolean
}

export function checkLifetime(name: string, seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError(`${name} must be an integer >= 1`)
  return seconds
}

function checkRedirectUris(uris: readonly string[]): string[] {
  for (const uri of uris) {
    if (!URL.canParse(uri)) throw new TypeError(`redirect URI is not a URL: ${uri}`)
  }
  return [...uris]
}

/** Throws a RangeError or TypeError naming the first option that is wrong. */
export function resolveSettings(options: SimulatorOptions): SimSettings {
  const user = options.user ?? DEFAULT_USER
  return {
    host: options.host ?? DEFAULT_HOST,
    idcsPort: options.idcsPort ?? 0,
    oacPort: options.oacPort ?? 0,
    clock: options.clock ?? systemClock,
    clientId: options.clientId ?? DEFAULT_CLIENT_ID,
    clientSecret: options.clientSecret ?? randomBytes(18).toString('base64url'),
    publicClientId: options.publicClientId ?? DEFAULT_PUBLIC_CLIENT_ID,
    user,
    refreshTokenLifetimeS: checkLifetime(
      'refreshTokenLifetimeS',
      options.refreshTokenLifetimeS ?? DEFAULT_REFRESH_TOKEN_LIFETIME_S,
    ),
    accessTokenLifetimeS: checkLifetime(
      'accessTokenLifetimeS',
      options.accessTokenLifetimeS ?? DEFAULT_ACCESS_TOKEN_LIFETIME_S,
    ),
    deviceLifetimeS: checkLifetime(
      'deviceCodeLifetimeS',
      options.deviceCodeLifetimeS ?? DEFAULT_DEVICE_CODE_LIFETIME_S,
    ),
    deviceIntervalS:
      options.deviceIntervalS === undefined ? undefined : checkLifetime('deviceIntervalS', options.deviceIntervalS),
    users: options.users ?? {
      [user]: { password: DEFAULT_USER_PASSWORD },
      [FEDERATED_USER]: { federated: true },
    },
    redirectUris: checkRedirectUris(options.redirectUris ?? DEFAULT_REDIRECT_URIS),
    loopbackAnyPort: options.loopbackAnyPort ?? true,
  }
}
