// Who the simulated domain knows: users (passwords, federation) and clients (and the grants each may use).

import { isRegisteredClient, type RegisteredClients } from './client-auth.js'
import type { SimUser } from '../types.js'

export type PasswordCheck = 'ok' | 'invalid' | 'federated'

export class Directory {
  readonly #users: Map<string, SimUser>
  readonly #clients: RegisteredClients
  readonly #grants = new Map<string, Set<string>>()

  constructor(users: Record<string, SimUser>, clients: RegisteredClients) {
    this.#users = new Map(Object.entries(users).map(([name, u]) => [name, { ...u }]))
    this.#clients = clients
  }

  hasUser(name: string): boolean {
    return this.#users.has(name)
  }

  checkPassword(name: string, password: string): PasswordCheck {
    const user = this.#users.get(name)
    if (!user) return 'invalid'
    if (user.federated) return 'federated'
    return user.password !== undefined && user.password.length > 0 && password === user.password ? 'ok' : 'invalid'
  }

  isKnownClient(clientId: string): boolean {
    return isRegisteredClient(this.#clients, clientId)
  }

  isPublicClient(clientId: string): boolean {
    return clientId === this.#clients.publicClientId
  }

  /** Restrict a client to `grants`; null allows every grant again. */
  setGrants(clientId: string, grants: string[] | null): void {
    if (!this.isKnownClient(clientId)) throw new Error(`unknown client: ${clientId}`)
    if (grants === null) this.#grants.delete(clientId)
    else this.#grants.set(clientId, new Set(grants))
  }

  allows(clientId: string, grantType: string): boolean {
    const grants = this.#grants.get(clientId)
    return grants === undefined || grants.has(grantType)
  }
}
