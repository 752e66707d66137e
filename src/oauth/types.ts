// Shapes shared by the token endpoint client, the grants and the token manager.

/** A successful token response, normalised. */
export interface TokenSet {
  accessToken: string
  tokenType: string
  expiresInS: number
  refreshToken?: string
  scope?: string
  idToken?: string
}

/** What a grant receives from the token manager each time it runs. */
export interface GrantContext {
  /** The newest refresh token held for this credential, if any. */
  refreshToken: string | undefined
  /** Aborts the call (the manager's longest wait for an answer). */
  signal?: AbortSignal
  /** The access token the upstream just refused (a forced refresh): a shared store must not hand it back. */
  rejected?: string
}

/** A grant: one way of turning configuration (+ state) into a token response. */
export interface Grant {
  /** e.g. refresh_token; shown in logs and status. */
  readonly name: string
  /** Whether this grant needs a stored refresh token to run. */
  readonly needsRefreshToken: boolean
  run(ctx: GrantContext): Promise<TokenSet>
}
