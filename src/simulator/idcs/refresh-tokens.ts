// Refresh tokens with IDCS rotation: every use issues a new one and retires the one presented.

import { randomBytes } from 'node:crypto'
import type { SimCall } from '../types.js'

export type RefreshTokenState = NonNullable<SimCall['refreshTokenState']>

export interface RefreshTokenGrant {
  clientId: string
  user: string
  /** The scope granted at login; later refreshes may only narrow it. */
  scope: string
  expiresAtMs: number
}

interface StoredRefreshToken extends RefreshTokenGrant {
  used: boolean
}

export function newRefreshTokenValue(): string {
  return 'AQAg' + randomBytes(32).toString('base64url')
}

export class RefreshTokenStore {
  readonly #tokens = new Map<string, StoredRefreshToken>()
  readonly #onIssue: (token: string) => void

  constructor(onIssue: (token: string) => void) {
    this.#onIssue = onIssue
  }

  issue(grant: RefreshTokenGrant): string {
    const token = newRefreshTokenValue()
    this.#tokens.set(token, { ...grant, used: false })
    this.#onIssue(token)
    return token
  }

  /** Classify a presented token without changing anything. */
  inspect(token: string, nowMs: number): { state: RefreshTokenState; grant?: RefreshTokenGrant } {
    const stored = this.#tokens.get(token)
    if (!stored) return { state: 'unknown' }
    if (stored.used) return { state: 'used', grant: stored }
    if (nowMs >= stored.expiresAtMs) return { state: 'expired', grant: stored }
    return { state: 'current', grant: stored }
  }

  /** Retire a current token (it was just exchanged for a new one). */
  retire(token: string): void {
    const stored = this.#tokens.get(token)
    if (stored) stored.used = true
  }
}
