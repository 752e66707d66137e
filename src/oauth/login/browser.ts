// Authorization code grant with PKCE (S256) on a loopback redirect: the browser login.
import { createHash, randomBytes } from 'node:crypto'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer } from '../../shared/node-http.js'
import type { AddressInfo } from 'node:net'
import { oauthErrorCode, ProxyError, sanitizeDescription } from '../../shared/errors.js'
import { requestToken, type TokenEndpoint } from '../token-endpoint.js'
import type { TokenSet } from '../types.js'

export const AUTHORIZE_PATH = '/oauth2/v1/authorize'

export interface BrowserLoginOptions {
  endpoint: TokenEndpoint
  scope: string
  /** 0 picks a free port (only if the app accepts any loopback port). */
  redirectPort: number
  redirectPath: string
  /** OIDC prompt; 'consent' (the default) is what a standard server needs before it grants offline_access. */
  prompt?: 'consent' | 'omit'
  timeoutMs: number
  /** Shows the URL (always called) and opens it if it can; resolves true when a browser was started. */
  openUrl: (url: string) => Promise<boolean>
}

export interface PkcePair {
  verifier: string
  challenge: string
}

export function createPkce(): PkcePair {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

const PAGE = (title: string, text: string): string =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
  `<body style="font-family:sans-serif;max-width:40em;margin:4em auto"><h1>${title}</h1><p>${text}</p></body></html>`

/** Runs the whole browser login; resolves the token response. */
export async function browserLogin(options: BrowserLoginOptions): Promise<TokenSet> {
  const pkce = createPkce()
  const state = randomBytes(16).toString('base64url')
  const server = await listenForRedirect(options.redirectPort)
  const port = (server.address() as AddressInfo).port
  const redirectUri = `http://127.0.0.1:${port}${options.redirectPath}`
  const url = authorizeUrl(options, redirectUri, state, pkce.challenge)
  try {
    const result = awaitRedirect(server, { options, redirectUri, state, verifier: pkce.verifier })
    await options.openUrl(url.toString())
    return await result
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

/** The loopback server the identity domain redirects the browser to; a port in use is a login_failed naming it. */
async function listenForRedirect(redirectPort: number): Promise<Server> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new ProxyError('login_failed', `cannot listen on 127.0.0.1:${redirectPort} for the redirect (${err.code})`, {
          hint: 'Choose another login.redirectPort (and register that redirect URL in the application).',
        }),
      ),
    )
    server.listen(redirectPort, '127.0.0.1', () => resolve())
  })
  return server
}

/** The authorization request the browser opens: code flow, PKCE S256, state, and prompt=consent unless omitted. */
function authorizeUrl(options: BrowserLoginOptions, redirectUri: string, state: string, challenge: string): URL {
  const url = new URL(options.endpoint.idcsUrl + AUTHORIZE_PATH)
  url.search = new URLSearchParams({
    client_id: options.endpoint.clientAuth.clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: options.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString()
  // OpenID Connect Core 11: offline access is granted with prompt=consent (otherwise the server may drop
  // offline_access and issue no refresh token)
  if ((options.prompt ?? 'consent') !== 'omit') url.searchParams.set('prompt', 'consent')
  return url
}

/** What the redirect must match, and what exchanges its code. */
interface RedirectExpectation {
  options: BrowserLoginOptions
  redirectUri: string
  state: string
  verifier: string
}

/** Answers the browser with a page, stops the timeout, then settles the login. */
type Finish = (status: number, title: string, text: string, outcome: () => void) => void

/** Resolves the tokens once the redirect brings a code and it is exchanged; rejects on a bad redirect or after timeoutMs. */
function awaitRedirect(server: Server, expected: RedirectExpectation): Promise<TokenSet> {
  return new Promise<TokenSet>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new ProxyError('login_expired', 'the browser login was not completed in time', {
            hint: 'Run login again; raise login.timeoutSeconds if needed.',
          }),
        ),
      expected.options.timeoutMs,
    )
    timer.unref()
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const got = new URL(req.url ?? '/', expected.redirectUri)
      if (req.method !== 'GET' || got.pathname !== expected.options.redirectPath) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
        return
      }
      const finish: Finish = (status, title, text, outcome) => {
        res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        res.end(PAGE(title, text))
        clearTimeout(timer)
        outcome()
      }
      answerRedirect(got.searchParams, expected, finish, resolve, reject)
    })
  })
}

/** Reads the redirect's query (state, error, code) and exchanges a good code for tokens. */
function answerRedirect(
  q: URLSearchParams,
  expected: RedirectExpectation,
  finish: Finish,
  resolve: (tokens: TokenSet) => void,
  reject: (err: unknown) => void,
): void {
  if (q.get('state') !== expected.state) {
    finish(400, 'Login failed', 'The answer did not match this login (state mismatch). Run the login again.', () =>
      reject(
        new ProxyError('login_failed', 'the redirect carried a different state than this login sent', {
          hint: 'Run login again; if it repeats, something else is answering the redirect URL.',
        }),
      ),
    )
    return
  }
  const error = q.get('error')
  if (error) {
    finish(400, 'Login failed', `The identity domain answered: ${escapeHtml(error)}.`, () =>
      reject(
        error === 'access_denied'
          ? new ProxyError('login_denied', 'the sign-in was refused (access_denied)', {
              hint: 'Sign in with a user allowed to use the application, then run login again.',
            })
          : refusedLogin(error, q.get('error_description'), expected.options.prompt),
      ),
    )
    return
  }
  const code = q.get('code')
  if (!code) {
    finish(400, 'Login failed', 'The redirect carried no code.', () =>
      reject(new ProxyError('login_failed', 'the redirect carried no authorization code')),
    )
    return
  }
  requestToken(expected.options.endpoint, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: expected.redirectUri,
    code_verifier: expected.verifier,
  }).then(
    (tokens) =>
      finish(200, 'Login complete', 'oac-token-proxy is signed in. You can close this tab.', () => resolve(tokens)),
    (err: unknown) =>
      finish(502, 'Login failed', 'The code could not be exchanged for tokens; see the terminal.', () => reject(err)),
  )
}

/** Printable characters only, at most `max` of them: an identity domain's words, safe for a terminal line. */
function printable(s: string, max: number): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, max)
}

/**
 * An error the identity domain sent back instead of a code. A server that does not take prompt=consent
 * (login.prompt) says so here; the hint then says how to stop sending it.
 */
function refusedLogin(error: string, description: string | null, prompt: 'consent' | 'omit' | undefined): ProxyError {
  // scrubbed like any identity-provider text (known secrets, token shapes) before it is cut
  const detail = description ? ` (${printable(sanitizeDescription(description), 160)})` : ''
  const message = `the identity domain answered the login with ${printable(oauthErrorCode(error), 64)}${detail}`
  const promptSent = (prompt ?? 'consent') !== 'omit'
  const aboutPrompt = /\bprompt\b/i.test(description ?? '')
  const hint =
    promptSent && aboutPrompt
      ? 'The login asked for consent (prompt=consent), which this identity domain refuses: set login.prompt: omit (OAC_PROXY_LOGIN_PROMPT=omit) and run login again.'
      : 'Check the application: its redirect URL (login.redirectPort, login.redirectPath), the grants it allows and the scope' +
        (promptSent ? '; if the answer is about prompt=consent, set login.prompt: omit' : '') +
        '. Then run login again.'
  return new ProxyError('login_failed', message, { hint })
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`).slice(0, 200)
}
