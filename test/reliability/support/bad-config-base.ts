// The valid configuration the bad-config suite starts from, and the edits that break it one key at a time.

export type Tree = Record<string, unknown>

export interface BadConfig {
  /** Which kind of defect (the short run takes the first few of each kind). */
  kind: string
  name: string
  /** The config as an object (written as YAML), or raw YAML text. */
  config: Tree | unknown[] | string
  /** Strings stderr must contain: the bad key, or CONFIG (the config file's path). */
  expect: string[]
  /** For YAML errors: stderr must say CONFIG:LINE:COLUMN with LINE in this range (where the parser noticed). */
  yamlLines?: [number, number]
  /** Secret values used in this config: neither stdout nor stderr may show them. */
  secrets?: string[]
  /** Extra files to create in the case directory. */
  files?: Record<string, string>
  /** File modes to set after creating the files. */
  modes?: Record<string, number>
}

/** Secret values the cases use; random per run so a hit cannot be a coincidence. */
export function secretValue(label: string): string {
  return `${label}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`
}

// loopback port 9 (discard): should a bad config be accepted by mistake, the proxy reaches nothing outside
const BASE_OAC = 'https://127.0.0.1:9'
const BASE_IDCS = 'https://localhost:9'
const BASE_SCOPE = 'https://oac-reliability.example.comurn:opc:resource:consumer::all offline_access'

export function baseConfig(): Tree {
  return {
    oacUrl: BASE_OAC,
    idcsUrl: BASE_IDCS,
    clientId: 'reliability-client',
    clientSecret: { file: 'client-secret' },
    scope: BASE_SCOPE,
    refreshToken: { file: 'refresh-token' },
    stateFile: 'state.json',
    listen: { port: 0 },
  }
}

/** The same valid config as YAML lines; the YAML cases edit them, so the line numbers are known. */
export function baseLines(): string[] {
  return [
    `oacUrl: ${BASE_OAC}`,
    `idcsUrl: ${BASE_IDCS}`,
    'clientId: reliability-client',
    'clientSecret: { file: client-secret }',
    `scope: "${BASE_SCOPE}"`,
    'refreshToken: { file: refresh-token }',
    'stateFile: state.json',
    'listen:',
    '  port: 0',
  ]
}

/** base with `path` (dotted; numeric parts index arrays) set to value, or removed when value is undefined. */
export function withValue(path: string, value: unknown, base: Tree = baseConfig()): Tree {
  const tree = structuredClone(base)
  const parts = path.split('.')
  let node = tree as Record<string, unknown>
  for (const part of parts.slice(0, -1)) {
    if (node[part] === null || typeof node[part] !== 'object') node[part] = {}
    node = node[part] as Record<string, unknown>
  }
  const leaf = parts[parts.length - 1] as string
  if (value === undefined) delete node[leaf]
  else node[leaf] = value
  return tree
}

export const ADMIN = {
  clientId: 'admin-client',
  scope: 'urn:opc:idm:__myscopes__',
  clientSecret: { file: 'client-secret' },
}
const ROUTE = { prefix: '/idcs/', upstream: BASE_IDCS, credential: 'admin' }
export const withAdmin = (): Tree => ({ ...baseConfig(), credentials: { admin: { ...ADMIN } }, routes: [{ ...ROUTE }] })
export const jwtBearer = (extra: Tree = {}): Tree => ({
  ...baseConfig(),
  grant: 'jwt_bearer',
  username: 'svc@example.com',
  keyId: 'alias',
  ...extra,
})
