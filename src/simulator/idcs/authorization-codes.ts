// Authorization codes of the code flow (single use, short-lived) and the state of the authorization endpoint.

import { randomBytes } from 'node:crypto'
import type { Clock } from '../../shared/clock.js'
import { AUTH_CODE_LIFETIME_S } from '../constants.js'
import type { AuthorizeBehaviour } from '../types.js'

export interface AuthorizationCode {
  clientId: string
  redirectUri: string
  scope: string
  challenge: string
  user: string
  expiresAtMs: number
}

export class AuthorizationCodes {
  readonly #clock: Clock
  readonly #codes = new Map<string, AuthorizationCode>()

  constructor(clock: Clock) {
    this.#clock = clock
  }

  issue(grant: Omit<AuthorizationCode, 'expiresAtMs'>): string {
    const code = 'AQIDBAU' + randomBytes(32).toString('base64url')
    this.#codes.set(code, { ...grant, expiresAtMs: this.#clock.now() + AUTH_CODE_LIFETIME_S * 1000 })
    return code
  }

  /** Single use: the first presentation consumes the code, whatever the outcome. */
  redeem(code: string): AuthorizationCode | undefined {
    const found = this.#codes.get(code)
    this.#codes.delete(code)
    return found
  }
}

export interface AuthorizeState {
  codes: AuthorizationCodes
  behaviour: AuthorizeBehaviour
  /** The user an unqualified approval signs in as. */
  defaultUser: string
  redirectUris: readonly string[]
  loopbackAnyPort: boolean
}
