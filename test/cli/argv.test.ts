// The shared argv helpers of the commands: strict parsing, whole-number and log-format flags, --config, a flag's help line.
import t, { type Test } from 'tap'
import {
  configPathOf,
  flagHelp,
  FLAG_OPTIONS,
  intFlag,
  logFormatFlag,
  parse,
  parseWithPositionals,
  PORT_RANGE,
  TOKEN_LIFETIME_RANGE,
} from '../../src/cli/argv.js'
import { isProxyError } from '../../src/shared/errors.js'

/** The usage error a call throws: its message and hint (the test fails when it throws something else or nothing). */
function usageError(t: Test, fn: () => unknown): { message: string; hint: string | undefined } {
  try {
    fn()
  } catch (err) {
    t.ok(isProxyError(err) && err.code === 'usage', `a usage error: ${String(err)}`)
    return { message: (err as Error).message, hint: isProxyError(err) ? err.hint : undefined }
  }
  t.fail('expected a usage error')
  return { message: '', hint: undefined }
}

t.test('parse reads the options and -h of a command', async (t) => {
  const options = { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } } as const
  t.same(parse(['-c', 'a.yaml', '--json'], options, 'status').values, { config: 'a.yaml', json: true })
  t.same(parse(['-h'], options, 'status').values, { help: true })
})

t.test('parse: an unknown option, a missing value or a positional is a usage error pointing at the help', async (t) => {
  const options = { config: { type: 'string', short: 'c' } } as const
  for (const args of [['--nope'], ['--config'], ['extra']]) {
    const e = usageError(t, () => parse(args, options, 'token'))
    t.equal(e.hint, 'Run oac-token-proxy help token.', args.join(' '))
  }
})

t.test('parseWithPositionals keeps positionals and refuses unknown options the same way', async (t) => {
  const options = { credential: { type: 'string' } } as const
  const parsed = parseWithPositionals(['tokens.json', '--credential', 'b'], options, 'import')
  t.same(parsed.positionals, ['tokens.json'])
  t.same(parsed.values, { credential: 'b' })
  t.equal(
    usageError(t, () => parseWithPositionals(['--nope'], options, 'import')).hint,
    'Run oac-token-proxy help import.',
  )
})

t.test('configPathOf: --config wins over OAC_PROXY_CONFIG, which is the fallback', async (t) => {
  const saved = process.env.OAC_PROXY_CONFIG
  t.teardown(() => {
    if (saved === undefined) delete process.env.OAC_PROXY_CONFIG
    else process.env.OAC_PROXY_CONFIG = saved
  })
  process.env.OAC_PROXY_CONFIG = 'env.yaml'
  t.equal(configPathOf({ config: 'flag.yaml' }), 'flag.yaml')
  t.equal(configPathOf({}), 'env.yaml')
  delete process.env.OAC_PROXY_CONFIG
  t.equal(configPathOf({}), undefined)
})

t.test('intFlag: absent is the fallback; a whole number in range is read, blanks around it allowed', async (t) => {
  t.equal(intFlag(undefined, '--port', 8787, PORT_RANGE), 8787)
  t.equal(intFlag('0', '--port', 8787, PORT_RANGE), 0)
  t.equal(intFlag(' 65535 ', '--port', 8787, PORT_RANGE), 65535)
  t.equal(intFlag('10', '--token-lifetime', 100, TOKEN_LIFETIME_RANGE), 10)
})

t.test(
  'intFlag: anything else is a usage error naming the flag, the range and the value, with an example in range',
  async (t) => {
    for (const raw of ['-1', '1.5', '0x10', '', 'abc', '65536', '99999999999999999999', true]) {
      const e = usageError(t, () => intFlag(raw, '--port', 8787, PORT_RANGE))
      t.equal(e.message, `--port must be a whole number from 0 to 65535, got '${String(raw)}'`)
      t.equal(e.hint, 'For example --port 8787.')
    }
    const lifetime = usageError(t, () => intFlag('5', '--token-lifetime', 100, TOKEN_LIFETIME_RANGE))
    t.equal(lifetime.message, "--token-lifetime must be a whole number from 10 to 86400 (seconds), got '5'")
    // the example stays inside the range even when the fallback does not
    t.equal(usageError(t, () => intFlag('x', '--n', 0, { min: 5, max: 9 })).hint, 'For example --n 5.')
  },
)

t.test('logFormatFlag: auto, json or pretty; absent is undefined; anything else names the choices', async (t) => {
  t.equal(logFormatFlag(undefined), undefined)
  for (const f of ['auto', 'json', 'pretty']) t.equal(logFormatFlag(f), f)
  t.equal(usageError(t, () => logFormatFlag('text')).message, "--log-format must be auto, json or pretty, got 'text'")
})

t.test("flagHelp: the flag, its value name, the config key it sets and the key's default", async (t) => {
  const line = (flag: string): string => flagHelp(FLAG_OPTIONS.find((o) => o.flag === flag)!)
  t.match(line('oac-url'), /^ {6}--oac-url URL {2,}oacUrl$/)
  t.match(line('port'), /^ {6}--port N {2,}listen\.port \(default \d+\)$/)
  t.match(line('log-format'), /^ {6}--log-format auto\|json\|pretty {2,}log\.format \(default auto\)$/)
  t.equal(line('oac-url').indexOf('oacUrl'), 40, 'the key column starts at 40')
})
