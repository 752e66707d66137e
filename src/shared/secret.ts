// A wrapper for secret strings that refuses to be printed, logged or serialised.
import { inspect } from 'node:util'
import { registerSecretValue } from './redact.js'

export class Secret {
  readonly #value: string
  /** Where it came from, for error messages: "env OAC_PROXY_CLIENT_SECRET", "file /run/secrets/x". */
  readonly source: string

  constructor(value: string, source: string) {
    this.#value = value
    this.source = source
    // whatever outside text quotes this value back is scrubbed of it
    registerSecretValue(value)
  }

  reveal(): string {
    return this.#value
  }

  toString(): string {
    return '[redacted]'
  }

  toJSON(): string {
    return '[redacted]'
  }

  [inspect.custom](): string {
    return `Secret(${this.source})`
  }
}
