// Device authorization requests (RFC 8628) as IDCS keeps them: user codes, decisions, polling and slow_down.

import { randomBytes, randomInt } from 'node:crypto'
import type { Clock } from '../../shared/clock.js'
import { SLOW_DOWN_STEP_S } from '../constants.js'
import type { DeviceRequestStatus, DeviceRequestView } from '../types.js'

/** RFC 8628 section 6.1: consonants only, so no words and no look-alike characters. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ'
const USER_CODE_HALF = 4

interface DeviceRequest {
  deviceCode: string
  userCode: string
  clientId: string
  scope: string
  expiresAtMs: number
  intervalS: number
  lastPollMs?: number
  decision: 'pending' | 'approved' | 'denied' | 'used'
  user?: string
}

export type PollOutcome =
  { ok: false; error: string; description: string } | { ok: true; clientId: string; user: string; scope: string }

function newUserCode(): string {
  const pick = () => USER_CODE_ALPHABET.charAt(randomInt(USER_CODE_ALPHABET.length))
  const half = () => Array.from({ length: USER_CODE_HALF }, pick).join('')
  return `${half()}-${half()}`
}

/** Users type codes loosely: ignore case, spaces and dashes. */
export function normalizeUserCode(input: string): string {
  const letters = input.toUpperCase().replace(/[^A-Z]/g, '')
  return letters.length === 2 * USER_CODE_HALF
    ? `${letters.slice(0, USER_CODE_HALF)}-${letters.slice(USER_CODE_HALF)}`
    : input
}

function pollError(error: string, description: string): PollOutcome {
  return { ok: false, error, description }
}

export class DeviceStore {
  readonly #clock: Clock
  readonly #lifetimeS: number
  readonly #intervalS: number
  readonly #byDeviceCode = new Map<string, DeviceRequest>()
  readonly #byUserCode = new Map<string, DeviceRequest>()

  constructor(clock: Clock, lifetimeS: number, intervalS: number) {
    this.#clock = clock
    this.#lifetimeS = lifetimeS
    this.#intervalS = intervalS
  }

  create(clientId: string, scope: string): { deviceCode: string; userCode: string; expiresIn: number } {
    let userCode = newUserCode()
    while (this.#byUserCode.has(userCode)) userCode = newUserCode()
    const request: DeviceRequest = {
      deviceCode: randomBytes(32).toString('base64url'),
      userCode,
      clientId,
      scope,
      expiresAtMs: this.#clock.now() + this.#lifetimeS * 1000,
      intervalS: this.#intervalS,
      decision: 'pending',
    }
    this.#byDeviceCode.set(request.deviceCode, request)
    this.#byUserCode.set(userCode, request)
    return { deviceCode: request.deviceCode, userCode, expiresIn: this.#lifetimeS }
  }

  #status(r: DeviceRequest): DeviceRequestStatus {
    if (r.decision !== 'used' && this.#clock.now() >= r.expiresAtMs) return 'expired'
    return r.decision
  }

  list(): DeviceRequestView[] {
    return [...this.#byDeviceCode.values()].map((r) => ({
      userCode: r.userCode,
      clientId: r.clientId,
      scope: r.scope,
      status: this.#status(r),
    }))
  }

  /** The status of a user code, or undefined when no such code was issued. */
  statusOf(userCode: string): DeviceRequestStatus | undefined {
    const r = this.#byUserCode.get(normalizeUserCode(userCode))
    return r ? this.#status(r) : undefined
  }

  /** Approve (with a user) or deny a pending request; throws when unknown or no longer pending. */
  decide(userCode: string, decision: { approve: true; user: string } | { approve: false }): void {
    const r = this.#byUserCode.get(normalizeUserCode(userCode))
    if (!r) throw new Error('unknown user code')
    const status = this.#status(r)
    if (status !== 'pending') throw new Error(`device request is ${status}`)
    if (decision.approve) {
      r.decision = 'approved'
      r.user = decision.user
    } else {
      r.decision = 'denied'
    }
  }

  /** One poll of the token endpoint by `clientId`. */
  poll(deviceCode: string, clientId: string): PollOutcome {
    const r = this.#byDeviceCode.get(deviceCode)
    if (!r || r.clientId !== clientId) return pollError('invalid_grant', 'Invalid device code.')
    if (r.decision === 'used') return pollError('invalid_grant', 'The device code has already been used.')
    const now = this.#clock.now()
    if (now >= r.expiresAtMs) return pollError('expired_token', 'The device code has expired.')
    const previous = r.lastPollMs
    r.lastPollMs = now
    if (r.decision === 'denied') return pollError('access_denied', 'The user denied the request.')
    if (r.decision === 'pending') {
      if (previous !== undefined && now - previous < r.intervalS * 1000) {
        r.intervalS += SLOW_DOWN_STEP_S
        return pollError('slow_down', `Polling too fast: wait at least ${r.intervalS} seconds between polls.`)
      }
      return pollError('authorization_pending', 'The user has not yet approved the request.')
    }
    r.decision = 'used'
    return { ok: true, clientId: r.clientId, user: r.user ?? '', scope: r.scope }
  }
}
