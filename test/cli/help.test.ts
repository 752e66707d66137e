// Help, version and usage errors of the built CLI: what a bare call, `help X` and `version` do, and value names in help.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { EXIT } from '../../src/cli/exit-codes.js'
import { OPTIONS } from '../../src/config/options.js'
import { runCli } from '../helpers/cli-run.js'

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version

t.test('help for an unknown command is a usage error naming it', async (t) => {
  for (const args of [
    ['help', 'nope'],
    ['help', 'serve', 'extra'],
    ['help', '--bogus'],
  ]) {
    const r = await runCli(args)
    t.equal(r.code, EXIT.usage, args.join(' '))
    t.equal(r.stdout, '', 'no help text on stdout')
    t.match(r.stderr, new RegExp(`usage: unknown command '${args.slice(1).join(' ')}'`))
  }
})

t.test('every command in the list has a help page', async (t) => {
  const main = await runCli(['help'])
  t.equal(main.code, EXIT.ok)
  const commands = [...main.stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1] as string)
  t.ok(commands.includes('version') && commands.includes('serve'))
  for (const command of commands.filter((c) => c !== 'help')) {
    const r = await runCli(['help', command])
    t.equal(r.code, EXIT.ok, `help ${command}`)
    t.match(r.stdout, /Usage: oac-token-proxy /, `help ${command} shows usage`)
  }
})

t.test('the help says what a bare call does, and a bare call does that', async (t) => {
  const help = await runCli(['--help'])
  t.match(help.stdout, /With no arguments this help is printed \(exit 2\)/)
  t.notMatch(help.stdout, /default command/)
  const bare = await runCli([])
  t.equal(bare.code, EXIT.usage)
  t.equal(bare.stdout, help.stdout)
})

t.test('options first run serve, as the help says', async (t) => {
  const r = await runCli(['--port', 'x'])
  t.equal(r.code, EXIT.usage)
  t.match(r.stderr, /listen\.port/, 'serve validated the flag')
})

t.test('version and --version print the package version', async (t) => {
  for (const args of [['version'], ['--version']]) {
    const r = await runCli(args)
    t.same(r, { code: 0, stdout: `${VERSION}\n`, stderr: '' }, args.join(' '))
  }
  const extra = await runCli(['version', 'now'])
  t.equal(extra.code, EXIT.usage)
})

t.test('serve --help shows a value name after every flag', async (t) => {
  const r = await runCli(['serve', '--help'])
  t.equal(r.code, EXIT.ok)
  t.match(r.stdout, /--oac-url URL\s+oacUrl/)
  t.match(r.stdout, /--port N\s+listen\.port/)
  t.match(r.stdout, /--config FILE/)
  for (const o of OPTIONS.filter((x) => x.flag)) {
    t.match(r.stdout, new RegExp(`--${o.flag} [A-Z|a-z]+ +${o.path.replace('.', '\\.')}`), `--${o.flag}`)
  }
})
