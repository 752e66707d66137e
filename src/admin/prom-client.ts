// prom-client, without the package it loads but never uses here. Its process CPU metric requires
// @opentelemetry/api (51 modules, about 6 MB) at load, for exemplars, which are not enabled: that package is
// deferred before prom-client loads (so every runtime import of prom-client goes through this file) and
// loads only if something uses it.
import { createRequire } from 'node:module'
import { deferCommonJs } from '../shared/deferred-module.js'

const require = createRequire(import.meta.url)
deferCommonJs('@opentelemetry/api', require.resolve('prom-client'))
const promClient = require('prom-client') as typeof import('prom-client')

export const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = promClient
