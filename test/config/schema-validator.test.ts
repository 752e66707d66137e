// The ahead-of-time compiled config validator matches the options: regenerate it with `npm run docs` when it drifts.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { AJV_OPTIONS, buildSchema, checkSchema } from '../../src/config/schema.js'
// @ts-expect-error: a plain .mjs script, untyped
import { validatorSource, VALIDATOR_FILE } from '../../scripts/gen-validator.mjs'

t.test('src/config/schema-validator.ts is what the options compile to', async (t) => {
  const fresh = (validatorSource as (s: unknown, o: unknown) => string)(buildSchema(), AJV_OPTIONS)
  t.ok(fresh === readFileSync(VALIDATOR_FILE as URL, 'utf8'), 'stale: run npm run docs')
})

t.test('the compiled validator still reports every problem at once, by key', async (t) => {
  t.same(checkSchema({ oacUrl: 'https://oac.example', idcsUrl: 'https://idcs.example', clientId: 'c', scope: 's' }), [])
  const problems = checkSchema({ idcsUrl: '', clientId: 3, nope: 1, listen: { port: 'x' } })
  t.same(problems.map((p) => p.key).sort(), ['clientId', 'idcsUrl', 'listen.port', 'nope', 'oacUrl', 'scope'].sort())
})
