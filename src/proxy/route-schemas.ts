// Fastify's schema compilers, left unloaded: no route of the proxy declares a schema, so Ajv and fast-json-stringify stay off the start-up path.
import type { FastifyServerOptions } from 'fastify'

function unused(kind: string): never {
  throw new Error(`a route declared a ${kind} schema, but oac-token-proxy loads no schema compiler`)
}

/** Fastify's `schemaController` option: compilers that refuse, instead of the default ones Fastify would load. */
export const NO_ROUTE_SCHEMAS: NonNullable<FastifyServerOptions['schemaController']> = {
  compilersFactory: {
    buildValidator: () => () => unused('validation'),
    buildSerializer: () => () => unused('response'),
  },
}
