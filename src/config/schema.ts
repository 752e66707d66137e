// Builds the JSON schema from the option table and validates a merged config, reporting every problem at once.
import type { ErrorObject, Options as AjvOptions, ValidateFunction } from 'ajv'
import { OPTIONS, type OptionSpec } from './options.js'
import validate from './schema-validator.js'

type JsonSchema = Record<string, unknown>

const SECRET_SCHEMA: JsonSchema = {
  oneOf: [
    { type: 'string', minLength: 1 },
    {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 1,
      properties: {
        value: { type: 'string', minLength: 1 },
        env: { type: 'string', minLength: 1 },
        file: { type: 'string', minLength: 1 },
      },
    },
  ],
}

function leafSchema(spec: OptionSpec): JsonSchema {
  switch (spec.type) {
    case 'string':
      return spec.pattern ? { type: 'string', pattern: spec.pattern } : { type: 'string', minLength: 1 }
    case 'stringList':
      return { type: 'array', items: { type: 'string', minLength: 1 } }
    case 'access':
      return ACCESS_SCHEMA
    case 'url':
      return { type: 'string', minLength: 1 }
    case 'integer':
    case 'number':
      return {
        type: spec.type,
        ...(spec.minimum === undefined ? {} : { minimum: spec.minimum }),
        ...(spec.maximum === undefined ? {} : { maximum: spec.maximum }),
      }
    case 'boolean':
      return { type: 'boolean' }
    case 'enum':
      return { type: 'string', enum: spec.enum }
    case 'secret':
      return SECRET_SCHEMA
    case 'credentials':
      return {
        type: 'object',
        propertyNames: { pattern: CREDENTIAL_NAME_PATTERN },
        additionalProperties: credentialSchema(),
      }
    case 'routes':
      return { type: 'array', items: ROUTE_SCHEMA }
  }
}

/** Credential names: used in the state file, logs and metrics. */
export const CREDENTIAL_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

/** What callers may do on a route. */
const ACCESS_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    readOnly: { type: 'boolean' },
    allowMethods: { type: 'array', items: { type: 'string', enum: METHODS } },
    allowPaths: { type: 'array', items: { type: 'string', pattern: '^/' } },
    denyPaths: { type: 'array', items: { type: 'string', pattern: '^/' } },
  },
}

const ROUTE_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['prefix', 'upstream', 'credential'],
  properties: {
    prefix: { type: 'string', pattern: '^/.*/$' },
    upstream: { type: 'string', minLength: 1 },
    credential: { type: 'string', minLength: 1 },
    access: ACCESS_SCHEMA,
  },
}

/** One entry under `credentials:`: the credential keys of the top level; idcsUrl may be inherited. */
function credentialSchema(): JsonSchema {
  const properties: Record<string, JsonSchema> = {}
  for (const spec of OPTIONS.filter((o) => o.credential)) properties[spec.path] = leafSchema(spec)
  return { type: 'object', additionalProperties: false, required: ['clientId', 'scope'], properties }
}

export function buildSchema(options: readonly OptionSpec[] = OPTIONS): JsonSchema {
  const root: JsonSchema = { type: 'object', additionalProperties: false, properties: {}, required: [] }
  for (const spec of options) {
    const parts = spec.path.split('.')
    let node = root
    for (const part of parts.slice(0, -1)) {
      const props = node.properties as Record<string, JsonSchema>
      props[part] ??= { type: 'object', additionalProperties: false, properties: {}, required: [] }
      node = props[part]
    }
    const leaf = parts[parts.length - 1] as string
    ;(node.properties as Record<string, JsonSchema>)[leaf] = leafSchema(spec)
    if (spec.required) (node.required as string[]).push(leaf)
  }
  return root
}

/** How the schema is compiled: ahead of time, into schema-validator.ts (scripts/gen-validator.mjs). */
export const AJV_OPTIONS: AjvOptions = { allErrors: true, strict: true, allowUnionTypes: true }
// compiled ahead of time: start-up neither loads Ajv's compiler nor generates code
const validateFn = validate as unknown as ValidateFunction

export interface SchemaProblem {
  /** Dotted key, e.g. listen.port; '' for the root. */
  key: string
  problem: string
}

/** Validates and returns every problem, one per key, in a stable order. */
export function checkSchema(value: unknown): SchemaProblem[] {
  if (validateFn(value)) return []
  const problems = new Map<string, string>()
  for (const err of validateFn.errors ?? []) {
    // errors inside a oneOf branch are summarised by the oneOf error itself (and must not echo keys)
    if (/\/oneOf\/\d+\//.test(err.schemaPath)) continue
    const p = describe(err)
    if (!p) continue
    // oneOf produces an error per branch; keep the first (most useful) per key
    if (!problems.has(p.key)) problems.set(p.key, p.problem)
  }
  return [...problems].map(([key, problem]) => ({ key, problem }))
}

function describe(err: ErrorObject): SchemaProblem | undefined {
  const base = err.instancePath.replace(/^\//, '').replace(/\//g, '.')
  if (err.propertyName !== undefined || err.keyword === 'propertyNames') {
    const name = err.propertyName ?? (err.params as { propertyName?: string }).propertyName ?? ''
    return { key: base, problem: `has an invalid credential name '${name.slice(0, 64)}' (use letters, digits, _ . -)` }
  }
  const join = (k: string): string => (base ? `${base}.${k}` : k)
  switch (err.keyword) {
    case 'additionalProperties': {
      const extra = (err.params as { additionalProperty: string }).additionalProperty
      return { key: join(extra), problem: 'unknown key' }
    }
    case 'required': {
      const missing = (err.params as { missingProperty: string }).missingProperty
      return { key: join(missing), problem: 'is required' }
    }
    case 'type':
      return { key: base, problem: `must be ${article((err.params as { type: string }).type)}` }
    case 'enum':
      return {
        key: base,
        problem: `must be one of ${(err.params as { allowedValues: string[] }).allowedValues.join(', ')}`,
      }
    case 'minimum':
    case 'maximum':
      return {
        key: base,
        problem: `must be ${err.keyword === 'minimum' ? '>=' : '<='} ${(err.params as { limit: number }).limit}`,
      }
    case 'minLength':
      return { key: base, problem: 'must not be empty' }
    case 'pattern':
      return base.startsWith('routes.')
        ? { key: base, problem: 'must start and end with / (e.g. /idcs/)' }
        : { key: base, problem: 'must match ' + (err.params as { pattern: string }).pattern }
    case 'oneOf':
    case 'minProperties':
    case 'maxProperties':
      return {
        key: base,
        problem: 'must be a string, or an object with exactly one of value, env or file',
      }
    default:
      return { key: base, problem: err.message ?? 'is invalid' }
  }
}

function article(type: string): string {
  return type === 'integer' || type === 'object' || type === 'array' ? `an ${type}` : `a ${type}`
}
