// Options of a credential: identity domain, client, grant, keys; also the keys of each entry under `credentials:`.
import type { OptionSpec } from './spec.js'

export const GRANTS = ['refresh_token', 'password', 'jwt_bearer', 'client_credentials'] as const
export const CLIENT_AUTH_METHODS = [
  'auto',
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
  'none',
] as const
export const DEFAULT_GRANT = 'refresh_token'
export const DEFAULT_CLIENT_AUTH = 'auto'
/** The audience older IDCS domains expect in JWT assertions; newer ones also accept the domain URL. */
export const DEFAULT_ASSERTION_AUDIENCE = 'https://identity.oraclecloud.com/'
/** Credential name of the top-level credential. */
export const DEFAULT_CREDENTIAL = 'default'

/** The credential keys, in table order (the top level is the default credential). */
export const CREDENTIAL_OPTIONS: readonly OptionSpec[] = [
  {
    path: 'idcsUrl',
    credential: true,
    type: 'url',
    required: true,
    flag: 'idcs-url',
    description: 'Base URL of the IDCS / OCI IAM identity domain, e.g. https://idcs-0123abcd.identity.oraclecloud.com.',
  },
  {
    path: 'clientId',
    credential: true,
    type: 'string',
    required: true,
    flag: 'client-id',
    description: 'Client ID of the confidential (or public) application registered in the identity domain.',
  },
  {
    path: 'clientSecret',
    credential: true,
    type: 'secret',
    description:
      'Client secret of the application. Omit for a public client. Give it as {env: NAME} or {file: PATH} rather than inline.',
  },
  {
    path: 'scope',
    credential: true,
    type: 'string',
    required: true,
    flag: 'scope',
    description:
      "OAC scope: the OAC app's primary audience followed by urn:opc:resource:consumer::all, then offline_access.",
  },
  {
    path: 'refreshToken',
    credential: true,
    type: 'secret',
    description:
      'Bootstrap refresh token, used only when the state file holds none. A file may be an OAC profile tokens.json.',
  },
  {
    path: 'grant',
    type: 'enum',
    enum: GRANTS,
    default: DEFAULT_GRANT,
    credential: true,
    description:
      'How access tokens are renewed: refresh_token (after a login or with a bootstrap token), jwt_bearer (a user assertion signed with privateKey; no refresh token needed), password (deprecated; fails for federated users), client_credentials (IDCS/My Services APIs only: OAC rejects tokens without a user).',
  },
  {
    path: 'clientAuth',
    type: 'enum',
    enum: CLIENT_AUTH_METHODS,
    default: DEFAULT_CLIENT_AUTH,
    credential: true,
    description:
      'Client authentication at the token endpoint. auto: client_secret_basic with a clientSecret, private_key_jwt with only a privateKey, none (public client) otherwise.',
  },
  {
    path: 'username',
    type: 'string',
    credential: true,
    description: 'User name for the password and jwt_bearer grants (the assertion subject).',
  },
  {
    path: 'password',
    type: 'secret',
    credential: true,
    description: 'Password for the password grant. Give it as {env: NAME} or {file: PATH}.',
  },
  {
    path: 'privateKey',
    type: 'secret',
    credential: true,
    description:
      "PEM private key (PKCS#8 or PKCS#1) of the application's uploaded certificate, for jwt_bearer assertions and private_key_jwt client authentication.",
  },
  {
    path: 'keyId',
    type: 'string',
    credential: true,
    description:
      'Certificate alias uploaded to the application, sent as the assertion kid header. Give keyId or certificate.',
  },
  {
    path: 'certificate',
    type: 'string',
    credential: true,
    description:
      'PEM certificate file of the key; its SHA-1 thumbprint is sent as the assertion x5t header (when keyId is not given).',
  },
  {
    path: 'assertionAudience',
    type: 'string',
    default: DEFAULT_ASSERTION_AUDIENCE,
    credential: true,
    description:
      'aud claim of JWT assertions: https://identity.oraclecloud.com/ (older domains) or the identity domain URL.',
  },
  {
    path: 'tokenFile',
    type: 'string',
    credential: true,
    description:
      "Also write the current access token to this file (atomically, mode 0600) whenever it changes (every refresh, and at start when a saved or imported token is served), for tools that read a token file (e.g. the OCI CLI's --idcs-access-token-file).",
  },
]
