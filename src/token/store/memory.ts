// Memory store: keeps credential state in memory only, for tests and one-shot commands.
import { Claims } from './identity.js'
import type { CredentialIdentity, CredentialState, TokenStore } from './types.js'

/** For tests and one-shot commands: keeps state in memory only. */
export class MemoryStore implements TokenStore {
  readonly data = new Map<string, CredentialState>()
  readonly #claims = new Claims()
  saves = 0
  load(credential: string): CredentialState | undefined {
    const s = this.data.get(credential)
    return s ? { ...s } : undefined
  }
  async save(credential: string, state: CredentialState): Promise<void> {
    this.saves++
    this.data.set(credential, this.#claims.stamp(credential, state, this.data.get(credential)))
  }
  claim(identity: CredentialIdentity): void {
    this.#claims.claim(identity, this.data.get(identity.credential), 'in memory')
  }
  async close(): Promise<void> {}
}
