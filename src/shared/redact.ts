// Scrubs secrets from text that came from outside (identity provider, upstream): every known value exactly, then token-shaped strings.

const REDACTED = '[redacted]'
/** Shorter values are not registered: scrubbing them would mangle ordinary words. */
const MIN_SECRET_CHARS = 8
/** Tokens are kept this many deep (oldest forgotten first); configured secrets are kept for the whole run. */
const MAX_TOKENS = 4096

/** Configured secrets: client secrets, private keys, passwords, local keys, refresh tokens from the configuration. */
const configured = new Set<string>()
/** Tokens obtained or loaded while running (access, refresh and ID tokens), oldest first. */
const tokens = new Map<string, string[]>()
/** Every registered form by its first MIN_SECRET_CHARS characters, longest first: one map lookup per text position. */
const index = new Map<string, string[]>()

/** The forms a value takes in plain text, inside JSON text and in a form body. */
function formsOf(value: string): string[] {
  const forms = new Set([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)])
  return [...forms].filter((f) => f.length >= MIN_SECRET_CHARS)
}

function indexAdd(form: string): void {
  const key = form.slice(0, MIN_SECRET_CHARS)
  const list = index.get(key) ?? []
  if (list.includes(form)) return
  list.push(form)
  list.sort((a, b) => b.length - a.length)
  index.set(key, list)
}

function indexRemove(form: string): void {
  const key = form.slice(0, MIN_SECRET_CHARS)
  const list = index.get(key)?.filter((f) => f !== form)
  if (list && list.length > 0) index.set(key, list)
  else index.delete(key)
}

/** Registers a configured secret: it is scrubbed from every outside text until the process ends. */
export function registerSecretValue(value: string): void {
  const values = [value]
  // a PEM private key is also scrubbed line by line (an error text may quote one line of it)
  if (value.includes('-----BEGIN')) {
    for (const line of value.split(/\r?\n/)) if (!line.startsWith('-----') && line.trim()) values.push(line.trim())
  }
  for (const v of values) {
    for (const form of formsOf(v)) {
      if (configured.has(form)) continue
      configured.add(form)
      indexAdd(form)
    }
  }
}

/** Registers a token this process obtained or held; the newest MAX_TOKENS are remembered. */
export function registerToken(value: unknown): void {
  if (typeof value !== 'string' || value.length < MIN_SECRET_CHARS || tokens.has(value)) return
  const forms = formsOf(value)
  tokens.set(value, forms)
  for (const form of forms) indexAdd(form)
  while (tokens.size > MAX_TOKENS) {
    const [oldest, oldForms] = tokens.entries().next().value as [string, string[]]
    tokens.delete(oldest)
    for (const form of oldForms) if (!configured.has(form)) indexRemove(form)
  }
}

/** Replaces every registered secret value in `text` (one map lookup per position). */
export function scrubKnownSecrets(text: string): string {
  if (index.size === 0 || text.length < MIN_SECRET_CHARS) return text
  let out = ''
  let last = 0
  for (let i = 0; i + MIN_SECRET_CHARS <= text.length;) {
    const hit = index.get(text.slice(i, i + MIN_SECRET_CHARS))?.find((f) => text.startsWith(f, i))
    if (hit === undefined) {
      i++
      continue
    }
    out += text.slice(last, i) + REDACTED
    i += hit.length
    last = i
  }
  return last === 0 ? text : out + text.slice(last)
}

const JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g
/** Long opaque runs (no dot, colon or slash: those make host names, URLs, URNs and paths). */
const OPAQUE = /[A-Za-z0-9_\-+=]{32,}/g

/**
 * Token-shaped strings an outside text may hold even when this process never saw them: JWTs and
 * long opaque runs mixing letters and digits. Host-name labels (`.x.` around them), URLs and scopes
 * such as `https://host.example.comurn:opc:resource:consumer::all` are left alone.
 */
export function scrubTokenShapes(text: string): string {
  return text.replace(JWT, REDACTED).replace(OPAQUE, (run, offset: number, all: string) => {
    if (!/[0-9]/.test(run) || !/[A-Za-z]/.test(run)) return run
    const before = all[offset - 1]
    const after = all[offset + run.length]
    if (before === '.' || after === '.' || (before === '/' && all[offset - 2] === '/')) return run
    return REDACTED
  })
}

/** Both: known values exactly first (so no fragment survives a later cut), then token shapes. */
export function scrubSecrets(text: string): string {
  return scrubTokenShapes(scrubKnownSecrets(text))
}
