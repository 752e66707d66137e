// shared/deferred-module.ts: a package required at load loads only at its first use.
import t from 'tap'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { deferCommonJs } from '../../src/shared/deferred-module.js'

const loads = (): number => (globalThis as { deferredFixtureLoads?: number }).deferredFixtureLoads ?? 0

t.test('the package loads at the first property access, once, and answers as itself', async (t) => {
  const dir = t.testdir({
    node_modules: {
      fixture: {
        'package.json': JSON.stringify({ name: 'fixture', main: 'index.js' }),
        'index.js':
          'globalThis.deferredFixtureLoads = (globalThis.deferredFixtureLoads ?? 0) + 1\n' +
          'exports.answer = 42\nexports.twice = (n) => 2 * n\n',
      },
    },
    'user.cjs': "const fixture = require('fixture')\nexports.use = () => fixture.twice(fixture.answer)\n",
  })
  const require = createRequire(join(dir, 'user.cjs'))
  deferCommonJs('fixture', join(dir, 'user.cjs'))
  const user = require('./user.cjs') as { use(): number }
  t.equal(loads(), 0, 'requiring it loaded nothing')
  t.equal(user.use(), 84)
  t.equal(loads(), 1)
  t.equal(user.use(), 84)
  const fixture = require('fixture') as Record<string, unknown>
  t.same(Object.keys(fixture).sort(), ['answer', 'twice'])
  t.ok('answer' in fixture)
  t.equal(loads(), 1, 'loaded once')
})

t.test('a package already loaded, or not installed, is left alone', async (t) => {
  const dir = t.testdir({ 'user.cjs': '' })
  t.doesNotThrow(() => deferCommonJs('no-such-package-here', join(dir, 'user.cjs')))
  const require = createRequire(import.meta.url)
  const yaml = require('yaml') as unknown
  deferCommonJs('yaml', import.meta.url)
  t.equal(require('yaml'), yaml)
})
