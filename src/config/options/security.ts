// Options of access control: local keys, allowed hosts and origins, secret file permissions, access rules and TLS trust.
import type { OptionSpec } from './spec.js'

export const SECRET_FILE_POLICIES = ['refuse', 'warn'] as const
export const DEFAULT_LOCAL_KEY_HEADER = 'authorization'

/** Who may call the proxy and what they may do, and which certificates are trusted. */
export const SECURITY_OPTIONS: readonly OptionSpec[] = [
  {
    path: 'security.localKeysFile',
    type: 'string',
    description:
      'File of local keys, one per line (# comments): callers must present one, and the proxy swaps it for the real token. Required to listen beyond loopback.',
  },
  {
    path: 'security.localKeyHeader',
    type: 'string',
    default: DEFAULT_LOCAL_KEY_HEADER,
    description:
      'Where callers put the local key: authorization (as "Bearer <key>", which many tools can send) or the name of another header (e.g. x-proxy-key).',
  },
  {
    path: 'security.allowedHosts',
    type: 'stringList',
    description:
      'Host header values accepted besides localhost, 127.0.0.1 and [::1] (e.g. the sidecar service name); anything else gets 421 (DNS rebinding defence).',
  },
  {
    path: 'security.allowedOrigins',
    type: 'stringList',
    description:
      'Browser origins (scheme://host[:port]) allowed to call the proxy. By default no web page can: requests with another Origin or with Sec-Fetch-Site cross-site/same-site are refused.',
  },
  {
    path: 'security.allowNonLoopback',
    type: 'boolean',
    default: false,
    description:
      'Allow a non-loopback listen.host without local keys. Anyone who can reach the port then acts on OAC as you: the proxy logs a warning at every start.',
  },
  {
    path: 'security.secretFilePermissions',
    type: 'enum',
    enum: SECRET_FILE_POLICIES,
    default: 'refuse',
    description:
      'What to do when a secret or key file (or a configuration file holding an inline secret) is readable by group or others: refuse to start (default), or warn and go on (e.g. for a mounted secret you cannot chmod).',
  },
  {
    path: 'access',
    type: 'access',
    noEnv: true,
    description:
      "What callers may do on the OAC route: {readOnly, allowMethods, allowPaths, denyPaths} (paths are globs: * within a segment, ** across). Routes take the same under their own 'access'.",
  },
  {
    path: 'tls.caFile',
    type: 'string',
    description:
      'PEM bundle of extra CA certificates trusted for OAC and the identity domain (e.g. a corporate TLS-inspecting proxy). Certificates are always verified.',
  },
]
