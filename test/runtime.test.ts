// The supported Node.js lines: one list, named alike by engines, @types/node, the image, the systemd unit and the docs.
import t from 'tap'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'

const root = new URL('..', import.meta.url)
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8')
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; devDependencies: Record<string, string> }

/** The maintained lines: 22 and 24 in maintenance, 26 the Active LTS. */
const SUPPORTED = ['22', '24', '26']
const OLDEST = SUPPORTED[0] as string
const NEWEST = SUPPORTED.at(-1) as string

t.test('engines allows exactly the maintained lines, from 22.12', async (t) => {
  const ranges = pkg.engines.node.split('||').map((r) => r.trim())
  t.same(
    ranges.map((r) => /\d+/.exec(r)?.[0]),
    SUPPORTED,
  )
  t.equal(ranges[0], '^22.12.0', 'require(esm) without a flag and the fixes the dependencies ask for')
  t.match(ranges.at(-1), /^>=26/, 'the newest line stays open to its successors')
})

t.test('@types/node matches the oldest supported line', async (t) => {
  t.equal(/\d+/.exec(pkg.devDependencies['@types/node'] ?? '')?.[0], OLDEST)
})

t.test('the image builds and runs on the newest line over a maintained Debian (trixie)', async (t) => {
  const froms = [...read('Dockerfile').matchAll(/^FROM (\S+)/gm)].map((m) => m[1])
  t.ok(froms.length > 0)
  for (const from of froms) t.equal(from?.replace(/ .*/, ''), `node:${NEWEST}-trixie-slim`)
})

t.test('README, the deployment guide and the systemd unit name the supported lines, not Node 20', async (t) => {
  for (const path of ['README.md', 'docs/deployment.md', 'deploy/systemd/oac-token-proxy.service']) {
    const text = read(path)
    t.match(text, /Node(?:\.js)? 22 \(22\.12[^)]*\), 24 or 26|Node\.js 22\.12\+, 24 or 26/, path)
    t.notMatch(text, /Node(?:\.js)? 20(?:\.10)?(?:\+| or newer)/, path)
  }
})

t.test('fetch-node refuses a line that is not a major version, naming what to pass', async (t) => {
  const run = promisify(execFile)
  const err = (await run(process.execPath, ['scripts/fetch-node.mjs', '26.1'], { cwd: root }).catch(
    (e: unknown) => e,
  )) as { code?: number; stderr?: string }
  t.equal(err.code, 1)
  t.match(err.stderr, /"26\.1" is not a Node major version: pass e\.g\. 22/)
})

t.test(
  'one set of V8 flags: in the image, the systemd unit, the launcher and npm start, and valid on this Node',
  async (t) => {
    // @ts-expect-error: a plain .mjs module, untyped
    const { V8_FLAGS } = (await import('../scripts/v8-flags.mjs')) as { V8_FLAGS: string[] }
    t.ok(V8_FLAGS.length > 0)
    const flags = V8_FLAGS.join(' ')
    t.match(
      read('Dockerfile'),
      `ENTRYPOINT ["node", ${V8_FLAGS.map((f) => JSON.stringify(f)).join(', ')}, "/app/dist/cli.js"]`,
    )
    t.match(read('deploy/systemd/oac-token-proxy.service'), `ExecStart=/usr/bin/node ${flags} /opt/`)
    t.match(read('src/cli.ts'), new RegExp(`^#!/usr/bin/env -S node ${flags}\n`))
    t.match(
      (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start,
      `node ${flags} dist/cli.js`,
    )
    const run = promisify(execFile)
    const ok = await run(process.execPath, [...V8_FLAGS, '-p', 'process.execArgv.join(" ")'])
    t.ok(ok.stdout.startsWith(flags + ' -p'), `${process.version} accepts them`)
    t.equal(ok.stderr, '', 'without a warning')
  },
)
