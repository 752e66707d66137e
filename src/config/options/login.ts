// Options of the interactive and headless login: method, loopback redirect, prompt and timeout.
import { MAX_DURATION_SECONDS, type OptionSpec } from './spec.js'

export const LOGIN_METHODS = ['device', 'browser'] as const
/** consent: ask the user to consent, which OpenID Connect Core 11 makes the condition for offline access. */
export const LOGIN_PROMPTS = ['consent', 'omit'] as const
export const DEFAULT_LOGIN_PROMPT = 'consent'
export const DEFAULT_LOGIN_METHOD = 'device'
export const DEFAULT_REDIRECT_PORT = 0
export const DEFAULT_REDIRECT_PATH = '/callback'
export const DEFAULT_LOGIN_TIMEOUT_SECONDS = 600

/** How `oac-token-proxy login` (and the headless login of serve) signs in. */
export const LOGIN_OPTIONS: readonly OptionSpec[] = [
  {
    path: 'login.method',
    type: 'enum',
    enum: LOGIN_METHODS,
    default: DEFAULT_LOGIN_METHOD,
    description:
      'How `oac-token-proxy login` signs in: device (a code to enter on any device) or browser (authorization code with PKCE on a loopback redirect).',
  },
  {
    path: 'login.redirectPort',
    type: 'integer',
    default: DEFAULT_REDIRECT_PORT,
    minimum: 0,
    maximum: 65535,
    description:
      'Port of the loopback redirect for browser login (0: a free port, if the app allows any loopback port). IDCS matches registered redirect URLs exactly.',
  },
  {
    path: 'login.redirectPath',
    type: 'string',
    default: DEFAULT_REDIRECT_PATH,
    description: 'Path of the loopback redirect URL for browser login (http://127.0.0.1:PORT/PATH).',
  },
  {
    path: 'login.prompt',
    type: 'enum',
    enum: LOGIN_PROMPTS,
    default: DEFAULT_LOGIN_PROMPT,
    description:
      'prompt sent with the browser login: consent asks the user to consent, without which a server following OpenID Connect Core 11 may drop offline_access and issue no refresh token; omit sends no prompt (for a server that refuses it).',
  },
  {
    path: 'login.openBrowser',
    type: 'boolean',
    default: true,
    description: 'Open the browser for browser login when possible; otherwise the URL is printed.',
  },
  {
    path: 'login.headless',
    type: 'boolean',
    default: true,
    description:
      'When serve has no usable refresh token and login.method is device, start a device login by itself: the code and link go to the log and the status page, readiness stays false until it is approved.',
  },
  {
    path: 'login.timeoutSeconds',
    type: 'number',
    default: DEFAULT_LOGIN_TIMEOUT_SECONDS,
    minimum: 1,
    maximum: MAX_DURATION_SECONDS,
    description: 'Longest wait for a login to be completed.',
  },
]
