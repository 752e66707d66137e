// Hostile-input generator: hundreds of raw requests, each refused with a 4xx and a stable code, none reaching OAC.
import { connect } from 'node:net'
import t, { type Test } from 'tap'
import { ADMIN_PREFIX } from '../../src/shared/admin-path.js'
import { ERROR_CODES } from '../../src/shared/errors.js'
import { startStack, type Stack } from '../helpers.js'
import { guardedRoutes } from './routes-fixture.js'

const API = '/api/20210901/snapshots'
const KEY = 'k'.repeat(32)
const AUTH = `Authorization: Bearer ${KEY}`
const EXCHANGE_TIMEOUT_MS = 1500
const PARALLEL = 16
/** The statuses a refusal may carry (404: an admin path on a listener that does not serve it). */
const REFUSAL_STATUSES = new Set([400, 401, 403, 404, 405, 421, 431])
/** A name OAC itself could have (the simulator listens on loopback, so its own host would be allowed). */
const OAC_NAME = 'tenant-abc.analytics.ocp.oraclecloud.com'

interface Response {
  status: number
  headers: Record<string, string>
  body: string
  /** The `error` field of a JSON body; '(unparsable JSON)' when the JSON does not parse. */
  error: string | undefined
}

interface Answer {
  /** The final response (interim 1xx skipped), or how the exchange ended without one. */
  status: number | 'closed' | 'timeout'
  responses: Response[]
}

interface Hostile {
  name: string
  bytes: string | Buffer
  /** A HEAD request: the responses have no body. */
  head?: boolean
}

/** Writes the exact bytes; reads until the server closes, a complete final response arrives, or the timeout. */
function exchange(port: number, input: Hostile): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let done = false
    const finish = (timedOut: boolean): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const { responses } = parseResponses(Buffer.concat(chunks).toString('latin1'), input.head === true)
      const final = responses.find((r) => r.status >= 200)
      resolve({ status: final ? final.status : timedOut ? 'timeout' : 'closed', responses })
    }
    const timer = setTimeout(() => finish(true), EXCHANGE_TIMEOUT_MS)
    socket.on('connect', () => {
      socket.write(typeof input.bytes === 'string' ? Buffer.from(input.bytes, 'latin1') : input.bytes)
    })
    socket.on('data', (d: Buffer) => {
      chunks.push(d)
      const { responses, complete } = parseResponses(Buffer.concat(chunks).toString('latin1'), input.head === true)
      if (complete && responses.some((r) => r.status >= 200)) finish(false)
    })
    socket.on('end', () => finish(false))
    socket.on('close', () => finish(false))
    socket.on('error', () => finish(false))
  })
}

/** Every response in the stream; `complete` when the last one was read to its content-length. */
function parseResponses(text: string, head: boolean): { responses: Response[]; complete: boolean } {
  const responses: Response[] = []
  let rest = text
  for (;;) {
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(rest)
    if (!m) return { responses, complete: false }
    const end = rest.indexOf('\r\n\r\n')
    const headers: Record<string, string> = {}
    const headLines = rest.slice(0, end < 0 ? rest.length : end).split('\r\n')
    for (const line of headLines.slice(1)) {
      const i = line.indexOf(':')
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
    }
    const status = Number(m[1])
    if (end < 0) {
      responses.push({ status, headers, body: '', error: undefined })
      return { responses, complete: false }
    }
    const after = rest.slice(end + 4)
    const noBody = head || status < 200 || status === 204 || status === 304
    const length = noBody ? 0 : headers['content-length'] === undefined ? undefined : Number(headers['content-length'])
    const body = length === undefined ? after : after.slice(0, length)
    let error: string | undefined
    if (!noBody && /json/i.test(headers['content-type'] ?? '')) {
      try {
        error = (JSON.parse(body) as { error?: string }).error
      } catch {
        error = '(unparsable JSON)'
      }
    }
    responses.push({ status, headers, body, error })
    if (length === undefined || after.length < length) return { responses, complete: false }
    rest = after.slice(length)
    if (rest === '') return { responses, complete: true }
  }
}

interface Req {
  method?: string
  target?: string
  version?: string
  /** null: no Host line; an array: one line each. */
  host?: string | null | string[]
  headers?: string[]
  body?: string
  /** Add `Connection: close` (default true). */
  close?: boolean
}

function build(r: Req, defaultHost: string): string {
  const lines = [`${r.method ?? 'GET'} ${r.target ?? API} ${r.version ?? 'HTTP/1.1'}`]
  const host = r.host === undefined ? defaultHost : r.host
  if (host !== null) for (const h of Array.isArray(host) ? host : [host]) lines.push(`Host: ${h}`)
  lines.push(...(r.headers ?? []))
  if (r.body !== undefined && !(r.headers ?? []).some((h) => /^(content-length|transfer-encoding):/i.test(h))) {
    lines.push(`Content-Length: ${Buffer.byteLength(r.body, 'latin1')}`)
  }
  if (r.close !== false) lines.push('Connection: close')
  return lines.join('\r\n') + '\r\n\r\n' + (r.body ?? '')
}

interface Ctx {
  port: number
  oacUrl: string
  /** Header lines every request carries (the valid local key, on the keyed stack). */
  auth: string[]
  /** Prefix of every input name. */
  tag: string
}

/** The families every stack gets; with `ctx.auth` set, each input must be refused for its own reason, not the key. */
function hostileInputs(ctx: Ctx): Hostile[] {
  const out: Hostile[] = []
  const self = `127.0.0.1:${ctx.port}`
  const oacHost = new URL(ctx.oacUrl).host
  const authLines = ctx.auth.map((a) => a + '\r\n').join('')
  const add = (name: string, r: Req): void => {
    out.push({ name: ctx.tag + name, bytes: build({ ...r, headers: [...ctx.auth, ...(r.headers ?? [])] }, self) })
  }
  const addRaw = (name: string, bytes: string): void => {
    out.push({ name: ctx.tag + name, bytes })
  }

  // request targets: absolute-form, authority-form, asterisk, escapes from the path, overlong paths
  const targets = [
    'http://attacker.example/',
    'http://attacker.example' + API,
    'https://attacker.example:443' + API,
    'HTTP://ATTACKER.EXAMPLE/',
    'http://169.254.169.254/latest/meta-data/',
    `http://${self}${API}`,
    `http://localhost:${ctx.port}${API}`,
    ctx.oacUrl + API,
    ctx.oacUrl.replace('http:', 'https:') + API,
    `https://${OAC_NAME}${API}`,
    'attacker.example:443',
    self,
    oacHost,
    '*',
    `${API}/../../admin`,
    `${API}/..`,
    '/api/20210901/../../etc/passwd',
    '/..',
    '/.',
    `/.${API}`,
    '/api/./20210901/snapshots',
    '/api/20210901/%2e%2e/%2e%2e/admin',
    '/api/%2E%2e/x',
    '/api/%2e%2E/',
    `${API}/.%2e/`,
    `${API}/%2e/x`,
    '/api/20210901%2fsnapshots',
    '/api/20210901%2F..%2Fx',
    '/api/20210901/%5c..%5cadmin',
    '/api/20210901/%5C',
    '/api\\..\\admin',
    `${API}\\x`,
    `${API}%00.json`,
    `${API}/%00`,
    '/-/../api/20210901/snapshots',
    `/-/healthz/../..${API}`,
    `/-/healthz%2f..%2f..${API}`,
    `${API}/..?x=1`,
    `${API}/%2e%2e#frag`,
    '/api/..;/admin',
    '//attacker.example/api',
    '/api/20210901/%c0%ae%c0%ae/admin',
    '/api/20210901/%e0%80%ae%e0%80%ae/admin',
    `${API}/%zz`,
    `${API}/%`,
    '/api/' + 'a/'.repeat(6000) + '..',
    '/api/' + '%2e%2e/'.repeat(2000),
    '/api/' + 'a'.repeat(20 * 1024),
  ]
  for (const target of targets) {
    for (const method of ['GET', 'POST', 'DELETE']) {
      add(`target ${method} ${target.slice(0, 60)}`, { method, target, ...(method === 'POST' ? { body: '{}' } : {}) })
    }
  }
  for (const version of ['HTTP/1.0', 'HTTP/1.1']) {
    addRaw(`target with a raw NUL ${version}`, `GET ${API}\0 ${version}\r\nHost: ${self}\r\n${authLines}\r\n`)
    addRaw(`target with a raw space ${version}`, `GET /api/20210901 /snapshots ${version}\r\nHost: ${self}\r\n\r\n`)
    addRaw(`target with a raw tab ${version}`, `GET /api/20210901\t/../x ${version}\r\nHost: ${self}\r\n\r\n`)
    addRaw(`target with raw UTF-8 ${version}`, `GET /api/\xe2\x80\xa5/x ${version}\r\nHost: ${self}\r\n\r\n`)
  }

  // Host values: missing, empty, foreign, DNS-rebinding names, malformed, duplicated
  const hosts: Array<{ name: string; host: string | null | string[]; version?: string }> = [
    { name: 'missing (HTTP/1.1)', host: null },
    { name: 'missing (HTTP/1.0)', host: null, version: 'HTTP/1.0' },
    { name: 'empty', host: '' },
    { name: 'attacker.example', host: 'attacker.example' },
    { name: 'attacker.example:port', host: `attacker.example:${ctx.port}` },
    { name: 'nip.io rebinding', host: `127.0.0.1.nip.io:${ctx.port}` },
    { name: 'localhost look-alike', host: `localhost.attacker.example:${ctx.port}` },
    { name: 'localhost:80@evil', host: 'localhost:80@evil' },
    { name: '127.0.0.1@evil', host: '127.0.0.1@attacker.example' },
    { name: 'localhost:evil', host: 'localhost:attacker.example' },
    { name: '[::1] with a suffix', host: '[::1].attacker.example' },
    { name: 'the OAC name', host: OAC_NAME },
    { name: '0.0.0.0', host: `0.0.0.0:${ctx.port}` },
    { name: 'decimal IP', host: '2130706433' },
    { name: 'hex IP', host: '0x7f.0.0.1' },
    { name: 'duplicate, loopback first', host: [self, 'attacker.example'] },
    { name: 'duplicate, attacker first', host: ['attacker.example', self] },
  ]
  for (const h of hosts) {
    for (const method of ['GET', 'POST', 'PUT', 'OPTIONS']) {
      add(`host ${h.name} ${method}`, {
        method,
        host: h.host,
        ...(h.version ? { version: h.version } : {}),
        ...(method === 'POST' || method === 'PUT' ? { body: '{"type":"CREATE"}' } : {}),
      })
    }
    add(`host ${h.name} POST with Expect: 100-continue`, {
      method: 'POST',
      host: h.host,
      headers: ['Expect: 100-continue', 'Content-Type: application/json'],
      body: '{"type":"CREATE"}',
    })
  }

  // browser headers: foreign or opaque Origin, Sec-Fetch-Site, CORS preflights, a cross-site form POST
  const origins = [
    'https://evil.example',
    'http://localhost:3000',
    'http://127.0.0.1',
    `https://${self}`,
    `http://${self}.evil.example`,
    'null',
    'file://',
    ctx.oacUrl,
  ]
  for (const origin of origins) {
    for (const method of ['GET', 'POST', 'DELETE']) {
      add(`origin ${origin} ${method}`, {
        method,
        headers: [`Origin: ${origin}`],
        ...(method === 'POST' ? { body: '{}' } : {}),
      })
    }
    for (const acrm of ['DELETE', 'POST', 'PUT']) {
      add(`preflight from ${origin} for ${acrm}`, {
        method: 'OPTIONS',
        headers: [
          `Origin: ${origin}`,
          `Access-Control-Request-Method: ${acrm}`,
          'Access-Control-Request-Headers: content-type, authorization',
        ],
      })
    }
  }
  for (const site of ['cross-site', 'same-site']) {
    for (const method of ['GET', 'POST', 'DELETE', 'OPTIONS']) {
      add(`sec-fetch-site ${site} ${method}`, { method, headers: [`Sec-Fetch-Site: ${site}`, 'Sec-Fetch-Mode: cors'] })
      add(`sec-fetch-site ${site} with the own origin ${method}`, {
        method,
        headers: [`Origin: http://${self}`, `Sec-Fetch-Site: ${site}`],
      })
    }
  }
  const form = 'type=CREATE&name=pwned&password=Pw-12345678'
  for (const [ct, origin] of [
    ['application/x-www-form-urlencoded', 'https://evil.example'],
    ['application/x-www-form-urlencoded', 'null'],
    ['text/plain', 'https://evil.example'],
    ['multipart/form-data; boundary=x', 'https://evil.example'],
  ] as const) {
    add(`cross-site form POST ${ct} from ${origin}`, {
      method: 'POST',
      headers: [
        `Content-Type: ${ct}`,
        `Origin: ${origin}`,
        'Sec-Fetch-Site: cross-site',
        'Sec-Fetch-Mode: navigate',
        'Sec-Fetch-Dest: document',
      ],
      body: form,
    })
  }
  add('cross-site form POST without Origin', {
    method: 'POST',
    headers: ['Content-Type: application/x-www-form-urlencoded', 'Sec-Fetch-Site: cross-site'],
    body: form,
  })

  // methods: CONNECT tunnels, TRACE and methods OAC does not have
  for (const target of ['attacker.example:443', self, oacHost, `${OAC_NAME}:443`, API]) {
    add(`CONNECT ${target}`, { method: 'CONNECT', target, host: target === API ? self : target, close: false })
  }
  for (const method of ['TRACE', 'TRACK', 'PROPFIND', 'FOO']) add(`method ${method}`, { method })

  // protocol upgrades
  const ws = ['Upgrade: websocket', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13']
  const h2c = ['Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA']
  for (const [name, headers] of [
    ['websocket', ws],
    ['h2c', h2c],
  ] as const) {
    for (const connection of ['Upgrade', 'keep-alive, Upgrade', 'upgrade, HTTP2-Settings']) {
      for (const target of [API, '/-/healthz']) {
        add(`upgrade ${name} ${target} (Connection: ${connection})`, {
          target,
          headers: [...headers, `Connection: ${connection}`],
          close: false,
        })
      }
    }
  }
  addRaw('HTTP/2 prior-knowledge preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')

  // CR/LF and control characters in the head, malformed header names
  const head = `GET ${API} HTTP/1.1\r\nHost: ${self}\r\n${authLines}`
  const injections: Array<[string, string]> = [
    ['bare CR in a value', 'X-A: a\rInjected: b\r\n'],
    ['bare CR before a Host', 'X-A: a\rHost: attacker.example\r\n'],
    ['bare LF then a second Host', 'X-A: a\nHost: attacker.example\r\n'],
    ['bare LF then Transfer-Encoding', 'X-A: a\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n'],
    ['NUL in a value', 'X-A: a\0b\r\n'],
    ['NUL in a name', 'X-\0A: b\r\n'],
    ['space in a name', 'X A: b\r\n'],
    ['space before the colon of Host', 'Host : attacker.example\r\n'],
    ['tab before the colon', 'X-A\t: b\r\n'],
    ['empty name (pseudo-header)', ':authority: attacker.example\r\n'],
    ['no colon', 'Garbage\r\n'],
    ['obs-fold continuation', 'X-A: a\r\n Host: attacker.example\r\n'],
    ['DEL in a name', 'X-\x7fA: b\r\n'],
    ['CTL in a value', 'X-A: a\x01b\r\n'],
  ]
  for (const [name, line] of injections) addRaw(`injection: ${name}`, `${head}${line}Connection: close\r\n\r\n`)
  addRaw(
    'leading whitespace before the first header',
    `GET ${API} HTTP/1.1\r\n Host: attacker.example\r\nHost: ${self}\r\nConnection: close\r\n\r\n`,
  )
  addRaw('CR/LF in the request line', `GET ${API}\r\nHost: attacker.example HTTP/1.1\r\nHost: ${self}\r\n\r\n`)
  addRaw('bare LF request line', `GET ${API} HTTP/1.1\nHost: ${self}\nX-A: b\r\nConnection: close\r\n\r\n`)
  addRaw('unknown version', `GET ${API} HTTP/9.9\r\nHost: ${self}\r\nConnection: close\r\n\r\n`)
  addRaw('a TLS ClientHello', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + 'x'.repeat(64))

  // message framing: CL + TE, conflicting lengths, invalid chunked bodies, a request smuggled behind a refused one
  const post = (headers: string[], body: string, close: boolean): string =>
    [`POST ${API} HTTP/1.1`, `Host: ${self}`, ...ctx.auth, ...headers, ...(close ? ['Connection: close'] : [])].join(
      '\r\n',
    ) +
    '\r\n\r\n' +
    body
  const smuggled = `GET ${API} HTTP/1.1\r\nHost: ${self}\r\n${authLines}\r\n`
  const framing: Array<[string, string[], string]> = [
    ['CL then TE', ['Content-Length: 4', 'Transfer-Encoding: chunked'], `0\r\n\r\n${smuggled}`],
    ['TE then CL', ['Transfer-Encoding: chunked', 'Content-Length: 4'], `0\r\n\r\n${smuggled}`],
    ['CL 0 with TE', ['Content-Length: 0', 'Transfer-Encoding: chunked'], '5\r\nhello\r\n0\r\n\r\n'],
    ['two different Content-Length', ['Content-Length: 4', 'Content-Length: 40'], 'abcd'],
    ['two different Content-Length (reversed)', ['Content-Length: 40', 'Content-Length: 4'], 'abcd'],
    ['Content-Length list', ['Content-Length: 4, 40'], 'abcd'],
    ['negative Content-Length', ['Content-Length: -1'], 'abcd'],
    ['signed Content-Length', ['Content-Length: +4'], 'abcd'],
    ['hex Content-Length', ['Content-Length: 0x4'], 'abcd'],
    ['overflowing Content-Length', ['Content-Length: 99999999999999999999999'], 'abcd'],
    ['TE xchunked', ['Transfer-Encoding: xchunked'], '0\r\n\r\n'],
    ['TE chunked, identity', ['Transfer-Encoding: chunked, identity'], '0\r\n\r\n'],
    ['TE identity', ['Transfer-Encoding: identity'], 'abcd'],
    ['TE chunked then TE identity', ['Transfer-Encoding: chunked', 'Transfer-Encoding: identity'], '0\r\n\r\n'],
    ['TE with a vertical tab', ['Transfer-Encoding:\x0bchunked'], '0\r\n\r\n'],
    ['chunk size not hex', ['Transfer-Encoding: chunked'], 'zz\r\nhello\r\n0\r\n\r\n'],
    ['negative chunk size', ['Transfer-Encoding: chunked'], '-5\r\nhello\r\n0\r\n\r\n'],
    ['0x chunk size', ['Transfer-Encoding: chunked'], '0x5\r\nhello\r\n0\r\n\r\n'],
    ['overflowing chunk size', ['Transfer-Encoding: chunked'], 'fffffffffffffffffff\r\nhello\r\n0\r\n\r\n'],
    ['chunk data longer than its size', ['Transfer-Encoding: chunked'], '2\r\nhello\r\n0\r\n\r\n'],
    ['bare LF after a chunk size', ['Transfer-Encoding: chunked'], '5\nhello\r\n0\r\n\r\n'],
    ['chunk extension with a bare CR', ['Transfer-Encoding: chunked'], '5;a=\rb\r\nhello\r\n0\r\n\r\n'],
  ]
  for (const [name, headers, body] of framing) {
    addRaw(`framing: ${name}`, post(headers, body, true))
    addRaw(`framing: ${name} (keep-alive)`, post(headers, body, false))
  }
  // the body of a refused request is read and dropped, never parsed as a second request
  for (const h of ['attacker.example', `localhost.attacker.example:${ctx.port}`]) {
    addRaw(
      `a request smuggled in the body of one for ${h}`,
      `POST ${API} HTTP/1.1\r\nHost: ${h}\r\n${authLines}Content-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    )
  }

  // oversized heads (the limit is 16 KiB)
  add('one 20 KiB header', { headers: [`X-Pad: ${'a'.repeat(20 * 1024)}`] })
  add('20 KiB of small headers', { headers: Array.from({ length: 1024 }, (_, i) => `X-P${i}: ${'b'.repeat(14)}`) })
  add('a 20 KiB cookie', { headers: [`Cookie: s=${'c'.repeat(20 * 1024)}`] })
  add('a 20 KiB Host', { host: 'localhost' + 'x'.repeat(20 * 1024) })
  add('a 20 KiB Authorization', { headers: [`Authorization: Bearer ${'k'.repeat(20 * 1024)}`] })
  add('a 20 KiB Origin', { headers: [`Origin: http://${self}${'/'.repeat(20 * 1024)}`] })
  return out
}

/** Only on the keyed stack: requests that would pass if they carried the right key, in the right place. */
function keyInputs(port: number): Hostile[] {
  const self = `127.0.0.1:${port}`
  const out: Hostile[] = []
  const presented: Array<[string, string[]]> = [
    ['no key', []],
    ['wrong key, same length', [`Authorization: Bearer ${'j'.repeat(32)}`]],
    ['upper-case key', [`Authorization: Bearer ${'K'.repeat(32)}`]],
    ['key prefix', [`Authorization: Bearer ${KEY.slice(0, 31)}`]],
    ['key with a suffix', [`${AUTH}x`]],
    ['key twice', [`${AUTH}${KEY}`]],
    ['key with an inner space', [`Authorization: Bearer ${KEY.slice(0, 16)} ${KEY.slice(16)}`]],
    ['key, space, key', [`${AUTH} ${KEY}`]],
    ['key, comma, key', [`${AUTH}, Bearer ${KEY}`]],
    ['Basic scheme', [`Authorization: Basic ${Buffer.from(`user:${KEY}`).toString('base64')}`]],
    ['Basic with the raw key', [`Authorization: Basic ${KEY}`]],
    ['Token scheme', [`Authorization: Token ${KEY}`]],
    ['no scheme', [`Authorization: ${KEY}`]],
    ['no space after Bearer', [`Authorization: Bearer${KEY}`]],
    ['Bearer alone', ['Authorization: Bearer']],
    ['Bearer and spaces', ['Authorization: Bearer    ']],
    ['empty Authorization', ['Authorization:']],
    ['key in another header', [`X-Proxy-Key: ${KEY}`]],
    ['key in Proxy-Authorization', [`Proxy-Authorization: Bearer ${KEY}`]],
    ['key in a cookie', [`Cookie: key=${KEY}`]],
    ['wrong key first, right key second', [`Authorization: Bearer ${'j'.repeat(32)}`, AUTH]],
  ]
  const targets = [API, `${API}?access_token=${KEY}`, '/-/status', '/-/healthz/', '/']
  for (const [name, headers] of presented) {
    for (const target of targets) {
      for (const method of ['GET', 'POST']) {
        out.push({
          name: `key: ${name}, ${method} ${target}`,
          bytes: build({ method, target, headers, ...(method === 'POST' ? { body: '{}' } : {}) }, self),
        })
      }
    }
  }
  // route access rules, with the valid key
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE']) {
    out.push({
      name: `access: ${method} on a read-only route`,
      bytes: build({ method, headers: [AUTH], ...(method === 'POST' || method === 'PUT' ? { body: '{}' } : {}) }, self),
    })
  }
  for (const target of [
    '/api/20210901/system/actions/restoreSnapshot',
    '/api/20210901/system',
    '/api/20210901/system/',
    '/api/20210901/snapshots/%2e%2e/system/actions/restoreSnapshot',
    '/api/20210901/snapshots/../system/actions/restoreSnapshot',
  ]) {
    for (const method of ['GET', 'HEAD']) {
      out.push({
        name: `access: ${method} ${target}`,
        bytes: build({ method, target, headers: [AUTH] }, self),
        head: method === 'HEAD',
      })
    }
  }
  return out
}

/**
 * Every form of `prefix` a client could send for the same resource: each unreserved character
 * percent-encoded (lower- and upper-case hex), all of them at once, a doubled slash at each slash,
 * a leading `//`, and `;params` (raw and `%3B`) after each segment.
 */
export function prefixEncodings(prefix: string): string[] {
  const out = new Set<string>()
  const enc = (c: string, upper: boolean): string => {
    const hex = c.charCodeAt(0).toString(16).padStart(2, '0')
    return `%${upper ? hex.toUpperCase() : hex}`
  }
  for (let i = 0; i < prefix.length; i++) {
    const c = prefix[i] as string
    if (c === '/') continue
    for (const upper of [false, true]) out.add(prefix.slice(0, i) + enc(c, upper) + prefix.slice(i + 1))
  }
  out.add([...prefix].map((c) => (c === '/' ? c : enc(c, false))).join(''))
  for (let i = 0; i < prefix.length; i++) {
    if (prefix[i] !== '/') continue
    out.add(prefix.slice(0, i) + '/' + prefix.slice(i))
    if (i > 0) {
      out.add(prefix.slice(0, i) + ';x=1' + prefix.slice(i))
      out.add(prefix.slice(0, i) + '%3Bx=1' + prefix.slice(i))
    }
  }
  out.delete(prefix)
  return [...out]
}

/** Method overrides a server behind the proxy may honour, each asking for a write. */
const OVERRIDE_HEADERS = ['X-HTTP-Method-Override: DELETE', 'X-HTTP-Method: PUT', 'X-Method-Override: POST']

/** Inputs generated from the configuration: every route prefix, every deny glob and the admin prefix, in every encoding. */
function configInputs(s: Stack): Hostile[] {
  const self = `127.0.0.1:${s.proxy.port}`
  const out: Hostile[] = []
  const add = (name: string, method: string, target: string, headers: string[] = []): void => {
    out.push({
      name: `config: ${name} ${method} ${target.slice(0, 80)}${headers.length > 0 ? ` ${headers.join(' ')}` : ''}`,
      bytes: build({ method, target, headers, ...(method === 'POST' || method === 'PUT' ? { body: '{}' } : {}) }, self),
    })
  }
  for (const route of s.config.routes) {
    const access = route.access
    if (!access) continue
    const prefixes = route.prefix === '/' ? [] : [route.prefix, ...prefixEncodings(route.prefix)]
    for (const p of prefixes) {
      // a method the route refuses, on a path it would otherwise allow
      const allowed = access.allowPaths?.[0]?.replace(/\/\*\*?$/, '') ?? route.prefix + 'x'
      const rest = allowed.slice(route.prefix.length)
      if (access.readOnly || access.allowMethods) {
        for (const method of ['POST', 'PUT', 'DELETE']) add(`route ${route.prefix}`, method, p + rest)
        // a GET that asks for a write by method override, in every header and parameter servers read
        for (const override of OVERRIDE_HEADERS) add(`route ${route.prefix} override`, 'GET', p + rest, [override])
        add(`route ${route.prefix} override`, 'GET', `${p + rest}?_method=DELETE`)
      }
      // a path outside allowPaths, with an allowed method
      if (access.allowPaths) add(`route ${route.prefix} path`, 'GET', p + 'not/allowed')
    }
    for (const glob of access.denyPaths ?? []) {
      const literal = glob.replace(/\/\*\*$/, '')
      for (const form of [literal, literal.toUpperCase(), ...prefixEncodings(literal + '/')]) {
        add(`deny ${glob}`, 'GET', form.endsWith('/') ? form + 'x' : form)
      }
    }
  }
  // the admin prefix on the proxy listener (admin.port is set): every form answers as /-/ does, 404
  for (const p of [ADMIN_PREFIX, ...prefixEncodings(ADMIN_PREFIX)]) {
    for (const path of ['status', 'metrics', '', 'healthz', 'token']) add('admin', 'GET', p + path)
  }
  return out
}

async function runAll(port: number, inputs: Hostile[]): Promise<Answer[]> {
  const answers: Answer[] = new Array(inputs.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < inputs.length) {
      const i = next++
      answers[i] = await exchange(port, inputs[i] as Hostile)
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker))
  return answers
}

const describe = (r: Response): string => `${r.status} ${r.error ?? '-'}`
const label = (a: Answer, head = false): string => {
  const final = a.responses.find((r) => r.status >= 200)
  return final ? (head ? `${final.status} (HEAD)` : describe(final)) : String(a.status)
}

/** Sends every input, checks each answer; returns the labels for the histogram and how many inputs reached OAC. */
async function attack(
  t: Test,
  s: Stack,
  inputs: Hostile[],
  control: Record<string, string>,
): Promise<{ labels: string[]; reached: number }> {
  const before = s.sim.stats().oacRequests
  const answers = await runAll(s.proxy.port, inputs)
  // anything smuggled behind a refused request would be in flight now
  await new Promise((r) => setTimeout(r, 100))
  const notRefused: string[] = []
  const unknownCodes: string[] = []
  const wrongStatus: string[] = []
  const corsGranted: string[] = []
  inputs.forEach((input, i) => {
    const answer = answers[i] as Answer
    const what = `${input.name.slice(0, 120)} -> ${answer.responses.map(describe).join(' + ') || answer.status}`
    if (answer.status === 'closed') return
    if (answer.status === 'timeout') notRefused.push(what)
    for (const r of answer.responses.filter((x) => x.status >= 200)) {
      if (!REFUSAL_STATUSES.has(r.status)) notRefused.push(what)
      if (r.error !== undefined || /json/i.test(r.headers['content-type'] ?? '')) {
        const known = r.error !== undefined && Object.hasOwn(ERROR_CODES, r.error)
        if (!known && !input.head) unknownCodes.push(what)
        if (known && ERROR_CODES[r.error as keyof typeof ERROR_CODES].status !== r.status) wrongStatus.push(what)
      }
      if (r.headers['access-control-allow-origin'] !== undefined) corsGranted.push(what)
    }
  })
  t.same(notRefused, [], 'every answer is a 4xx refusal or a closed connection')
  t.same(unknownCodes, [], 'every JSON answer has an error code from ERROR_CODES')
  t.same(wrongStatus, [], 'every code comes with its documented status')
  t.same(corsGranted, [], 'no answer grants CORS')
  const reached = s.sim.stats().oacRequests - before
  t.equal(reached, 0, 'no hostile input reached OAC')
  const ok = await s.get(API, control)
  t.equal(ok.status, 200, 'the proxy still serves a valid request')
  t.equal(s.sim.stats().oacRequests - before - reached, 1, 'the control request reached OAC, once')
  t.same(s.leakedSecrets(), [], 'no secret in the logs')
  return { labels: answers.map((a, i) => label(a, inputs[i]?.head)), reached }
}

t.test('hostile raw requests are refused before they reach OAC', async (t) => {
  const labels: string[] = []
  let reached = 0
  const record = (r: { labels: string[]; reached: number }): void => {
    labels.push(...r.labels)
    reached += r.reached
  }

  await t.test('default configuration', async (t) => {
    const s = await startStack(t)
    const inputs = hostileInputs({ port: s.proxy.port, oacUrl: s.sim.oacUrl, auth: [], tag: '' })
    record(await attack(t, s, inputs, {}))
  })

  await t.test('with local keys and a read-only route', async (t) => {
    const s = await startStack(t, {
      files: () => ({ keys: KEY + '\n' }),
      file: {
        security: { localKeysFile: 'keys' },
        access: { readOnly: true, denyPaths: ['/api/20210901/system', '/api/20210901/system/**'] },
      },
    })
    const ctx = { port: s.proxy.port, oacUrl: s.sim.oacUrl }
    const inputs = [
      ...hostileInputs({ ...ctx, auth: [AUTH], tag: 'with key: ' }),
      ...hostileInputs({ ...ctx, auth: [], tag: 'without key: ' }),
      ...keyInputs(s.proxy.port),
    ]
    record(await attack(t, s, inputs, { authorization: `Bearer ${KEY}` }))
  })

  await t.test('every route, deny glob and reserved prefix of the configuration, in every encoding', async (t) => {
    const s = await startStack(t, {
      file: (sim) => ({ admin: { port: 0 }, ...guardedRoutes(sim, ['/idcs/admin/v1/Apps/**']) }),
    })
    const inputs = configInputs(s)
    t.ok(inputs.length > 150, `${inputs.length} inputs generated from the configuration`)
    const idcsBefore = s.sim.calls.filter((c) => c.server === 'idcs' && !c.path.startsWith('/oauth2/')).length
    record(await attack(t, s, inputs, {}))
    t.equal(
      s.sim.calls.filter((c) => c.server === 'idcs' && !c.path.startsWith('/oauth2/')).length,
      idcsBefore,
      'no input reached the IDCS route either',
    )
  })

  const histogram: Record<string, number> = {}
  for (const l of labels) histogram[l] = (histogram[l] ?? 0) + 1
  const summary =
    `hostile inputs tried: ${labels.length}, reached OAC: ${reached}; ` +
    Object.entries(histogram)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')
  t.comment(summary)
  console.log(summary)
})
