// The HTML status page at GET /-/: one self-contained document that polls /-/status and shows live token countdowns.
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'

/** How often the page fetches /-/status; countdowns tick every second in between. */
export const STATUS_POLL_MS = 2000

/** A fresh nonce for every response, so an injected script or style can never guess it. */
function newNonce(): string {
  return randomBytes(18).toString('base64')
}

/** The strict content security policy: only our own nonce-tagged script and style, fetches to this origin only. */
export function statusPageCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
}

export function registerStatusPage(app: FastifyInstance): void {
  app.get('/-/', async (_request, reply) => {
    const nonce = newNonce()
    reply.headers({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'content-security-policy': statusPageCsp(nonce),
    })
    return renderStatusPage(nonce)
  })
}

/** The page holds no server data: everything shown comes from /-/status and is set with textContent. */
export function renderStatusPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>oac-token-proxy</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header><h1>oac-token-proxy <span id="version" class="muted"></span></h1><div id="meta" class="muted"></div></header>
<div id="banner" hidden></div>
<main id="credentials"><p class="muted">Loading…</p></main>
<footer id="counters" class="muted"></footer>
<nav class="muted">Machine-readable: <a href="/-/status">/-/status</a> (JSON) · <a href="/-/metrics">/-/metrics</a> (Prometheus) · <a href="/-/readyz">/-/readyz</a></nav>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`
}

const STYLE = `
:root { --fg: #1d2330; --muted: #667085; --bg: #f5f6f8; --card: #fff; --line: #e3e6eb;
  --valid: #1a7f37; --failing: #b54708; --login_required: #6941c6; --credential_rejected: #c0262d; --starting: #667085; }
* { box-sizing: border-box; }
body { margin: 0; padding: 20px 28px; font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif;
  color: var(--fg); background: var(--bg); }
h1 { font-size: 20px; margin: 0 0 2px; }
.muted { color: var(--muted); font-weight: normal; }
#meta span + span::before, footer span + span::before { content: ' · '; }
#banner { margin: 14px 0 0; padding: 10px 14px; border-radius: 8px; background: #fee4e2; color: #912018; font-weight: 600; }
.card { background: var(--card); border: 1px solid var(--line); border-left: 5px solid var(--h, var(--starting));
  border-radius: 8px; padding: 14px 18px; margin: 14px 0; }
.card.stale { opacity: .55; }
.head { display: flex; align-items: center; gap: 12px; margin-bottom: 8px; }
.name { font-size: 16px; font-weight: 600; }
.health { color: #fff; background: var(--h, var(--starting)); border-radius: 10px; padding: 1px 9px; font-size: 12px; }
dl { display: grid; grid-template-columns: 190px 1fr; gap: 3px 14px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
.countdown { font: 600 14px/1.45 ui-monospace, 'SFMono-Regular', Menlo, monospace; }
.warn { color: var(--failing); } .bad { color: var(--credential_rejected); }
.login { background: #f4f3ff; border: 2px solid var(--login_required); border-radius: 8px; padding: 10px 14px; margin: 0 0 10px; }
.login .msg { font-size: 15px; font-weight: 600; }
.login code { font: 700 20px ui-monospace, Menlo, monospace; letter-spacing: 2px; padding: 0 6px; background: #fff;
  border: 1px solid var(--line); border-radius: 4px; user-select: all; }
footer { margin-top: 6px; font-size: 13px; }
nav { margin-top: 6px; font-size: 13px; }
`

const SCRIPT = `
'use strict'
const POLL_MS = ${STATUS_POLL_MS}, FETCH_TIMEOUT_MS = 5000
const HEALTHS = ['valid', 'failing', 'login_required', 'credential_rejected', 'starting']
let last = null, receivedAt = 0, failed = false
const $ = (id) => document.getElementById(id)
function el(tag, cls, text) {
  const e = document.createElement(tag)
  if (cls) e.className = cls
  if (text !== undefined) e.textContent = text
  return e
}
function set(e, text) { if (e.textContent !== text) e.textContent = text }
const pad = (n) => String(n).padStart(2, '0')
function mmss(ms) { const s = Math.max(0, Math.floor(ms / 1000)); return pad(Math.floor(s / 60)) + ':' + pad(s % 60) }
function dur(ms) {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 90) return s + 's'
  if (s < 5400) return Math.round(s / 60) + 'm'
  if (s < 172800) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm'
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h'
}
const num = (v) => typeof v === 'number' && Number.isFinite(v)
const ago = (at, now) => (num(at) ? dur(now - at) + ' ago' : '—')
const inFuture = (at, now) => (num(at) ? (at <= now ? 'now' : 'in ' + dur(at - now)) : '—')
// the server measured the time left on its monotonic clock: count down from that
const tokenLeft = (c, now, since) => num(c.accessTokenRemainingMs) ? c.accessTokenRemainingMs - since
  : num(c.accessTokenExpiresAtMs) ? c.accessTokenExpiresAtMs - now : NaN
function safeUrl(u) {
  try { const p = new URL(u); return p.protocol === 'https:' || p.protocol === 'http:' ? p.href : null } catch { return null }
}
// [field, label, value(credential, serverNow, msSinceFetch)]
const FIELDS = [
  ['subject', 'Subject', (c) => c.subject || '—'],
  ['scope', 'Scope (in the token)', (c) => c.scope || '—'],
  ['configuredScope', 'Scope (configured)', (c) => c.configuredScope || '—'],
  ['expires', 'Access token expires in', (c, now, since) => num(tokenLeft(c, now, since)) ? mmss(tokenLeft(c, now, since)) : '—'],
  ['lastRefresh', 'Last refresh', (c, now) => ago(c.lastRefreshAtMs, now)],
  ['nextRefresh', 'Next refresh', (c, now) => inFuture(c.nextRefreshAtMs, now)],
  ['refreshTokenAge', 'Refresh token age', (c, now) => num(c.refreshTokenObtainedAtMs) ? dur(now - c.refreshTokenObtainedAtMs) : '—'],
  ['counts', 'Refreshes / failures', (c) => c.refreshes + ' / ' + c.failures
    + (c.consecutiveFailures ? ' (' + c.consecutiveFailures + ' in a row)' : '')],
  ['lastError', 'Last error', (c, now) => c.lastError ? c.lastError.code + ': ' + c.lastError.message
    + (num(c.lastError.atMs) ? ' (' + ago(c.lastError.atMs, now) + ')' : '') : 'none'],
]
const cards = new Map()
function card(name) {
  let k = cards.get(name)
  if (k) return k
  k = { root: el('section', 'card'), name: el('span', 'name', name), health: el('span', 'health'), grant: el('span', 'muted'),
    login: el('div', 'login'), code: el('code'), link: el('a'), loginExpires: el('span', 'countdown'), dl: el('dl'), dd: {} }
  k.root.dataset.credential = name
  k.health.dataset.field = 'health'
  const head = el('div', 'head')
  head.append(k.name, k.health, k.grant)
  k.link.rel = 'noreferrer'
  k.link.target = '_blank'
  k.link.dataset.field = 'loginLink'
  k.code.dataset.field = 'userCode'
  const msg = el('div', 'msg')
  msg.append('Sign-in needed: open ', k.link, ' and enter ', k.code)
  const exp = el('div', 'muted', 'The code expires in ')
  exp.append(k.loginExpires)
  k.login.append(msg, exp)
  for (const [field, label] of FIELDS) {
    k.dd[field] = el('dd')
    k.dd[field].dataset.field = field
    k.dl.append(el('dt', '', label), k.dd[field])
  }
  k.root.append(head, k.login, k.dl)
  cards.set(name, k)
  return k
}
function render() {
  if (!last) return
  const since = performance.now() - receivedAt
  // the server's clock plus the time since its answer: immune to this machine's clock offset
  const now = num(last.now) ? last.now + since : Date.now()
  set($('version'), last.version ? 'v' + last.version : '')
  const meta = [['upstream ', last.upstream], ['identity domain ', last.identityDomain],
    ['up ', num(last.startedAtMs) ? dur(now - last.startedAtMs) : ''], ['updated ', dur(since) + ' ago']]
  const spans = meta.filter(([, v]) => v).map(([k, v]) => el('span', '', k + v))
  if ($('meta').textContent !== spans.map((s) => s.textContent).join('')) $('meta').replaceChildren(...spans)
  const list = $('credentials'), seen = new Set()
  for (const c of last.credentials || []) {
    const k = card(c.credential)
    seen.add(c.credential)
    if (list.children[seen.size - 1] !== k.root) list.insertBefore(k.root, list.children[seen.size - 1] || null)
    k.root.classList.toggle('stale', failed)
    k.root.style.setProperty('--h', 'var(--' + (HEALTHS.includes(c.health) ? c.health : 'starting') + ')')
    set(k.health, String(c.health))
    set(k.grant, c.grant || '')
    for (const [field, , value] of FIELDS) set(k.dd[field], value(c, now, since))
    const left = tokenLeft(c, now, since)
    k.dd.expires.classList.toggle('countdown', num(left))
    k.dd.expires.classList.toggle('bad', left <= 0)
    k.dd.expires.classList.toggle('warn', left > 0 && left < 60000)
    k.dd.lastError.classList.toggle('bad', !!c.lastError)
    k.login.hidden = !c.login
    if (c.login) {
      const href = safeUrl(c.login.verificationUriComplete) || safeUrl(c.login.verificationUri)
      set(k.link, c.login.verificationUri || href || '')
      if (href) k.link.href = href; else k.link.removeAttribute('href')
      set(k.code, c.login.userCode || '')
      set(k.loginExpires, num(c.login.expiresAtMs) ? mmss(c.login.expiresAtMs - now) : '—')
    }
  }
  for (const [name, k] of cards) if (!seen.has(name)) { k.root.remove(); cards.delete(name) }
  if (!seen.size) list.replaceChildren(el('p', 'muted', 'No credentials.'))
  else for (const p of list.querySelectorAll('p')) p.remove()
  const n = last.counters || {}
  const parts = [['requests', n.requests], ['replays', n.replays], ['upstream errors', n.upstreamErrors], ['token errors', n.tokenErrors]]
  for (const [code, count] of Object.entries(n.refused || {})) parts.push(['refused ' + code, count])
  const text = parts.filter(([, v]) => num(v)).map(([k, v]) => k + ' ' + v)
  if ($('counters').textContent !== text.join('')) $('counters').replaceChildren(...text.map((t) => el('span', '', t)))
  const waiting = (last.credentials || []).some((c) => c.login)
  document.title = (failed ? 'unreachable' : waiting ? 'sign-in needed' : (last.credentials?.[0]?.health || '')) + ' — oac-token-proxy'
}
async function poll() {
  try {
    const res = await fetch('/-/status', { cache: 'no-store', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
    if (!res.ok) throw new Error('status request failed: HTTP ' + res.status)
    last = await res.json()
    receivedAt = performance.now()
    failed = false
    $('banner').hidden = true
  } catch (err) {
    failed = true
    const why = err.name === 'TypeError' || err.name === 'TimeoutError' ? 'proxy unreachable' : err.message
    set($('banner'), why + ', retrying every ' + POLL_MS / 1000 + ' s…')
    $('banner').hidden = false
    if (!last) $('credentials').replaceChildren()
  }
  render()
  setTimeout(poll, POLL_MS)
}
setInterval(render, 1000)
poll()
`
