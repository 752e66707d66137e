// Options of the proxy listener: address, port and unix socket.
import type { OptionSpec } from './spec.js'

export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 8787

/** Where the proxy listens. */
export const LISTEN_OPTIONS: readonly OptionSpec[] = [
  {
    path: 'listen.host',
    type: 'string',
    default: DEFAULT_HOST,
    flag: 'host',
    description: 'Address to listen on. Keep it on loopback: the port acts with your OAC rights.',
  },
  {
    path: 'listen.port',
    type: 'integer',
    default: DEFAULT_PORT,
    minimum: 0,
    maximum: 65535,
    flag: 'port',
    description: 'TCP port to listen on (0 picks a free one).',
  },
  {
    path: 'listen.tcp',
    type: 'boolean',
    default: true,
    description: 'Listen on listen.host:listen.port. Set false to serve only on listen.socket.',
  },
  {
    path: 'listen.socket',
    type: 'string',
    description:
      'Also listen on this unix socket path (e.g. /run/oac-token-proxy/proxy.sock); access is then governed by file permissions.',
  },
  {
    path: 'listen.socketMode',
    type: 'string',
    default: '0600',
    pattern: '^0?[0-7]{3}$',
    description: 'Permissions of the unix socket, in octal (0600: only the owner; 0660: the owner and its group).',
  },
]
