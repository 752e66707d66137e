// Idle memory layer by layer, on the bench's Node and flags: bare node; the Node built-ins the proxy uses; the
// proxy's code and dependencies loaded (dist/app/run.js imported, nothing started). With the idle rows of the
// main table (the reference and the running proxy) it shows where the idle RSS comes from, and how much of it is
// the node binary's file-backed pages (shared by every process of that binary) rather than the process's own.
// Alone: npm run build && node bench/idle-layers.mjs
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { benchNode } from './node.mjs'
import { cleanEnv } from './proc.mjs'

/** The built-ins a running proxy has loaded (its process.moduleLoadList, public names only). */
const BUILTINS = [
  'assert',
  'async_hooks',
  'buffer',
  'child_process',
  'crypto',
  'diagnostics_channel',
  'dns',
  'events',
  'fs',
  'http',
  'https',
  'net',
  'os',
  'path',
  'perf_hooks',
  'stream',
  'string_decoder',
  'timers',
  'tls',
  'url',
  'util',
  'worker_threads',
  'zlib',
]

/** Prints the process's memory as JSON after `settleMs`, once `load` (an ES module body) has run. */
function probe(load, settleMs) {
  return (
    `${load}\n` +
    "import { readFileSync } from 'node:fs'\n" +
    'setTimeout(() => {\n' +
    "  const s = readFileSync('/proc/self/status', 'utf8')\n" +
    "  const mib = (k) => Number(new RegExp('^' + k + ':\\\\s+(\\\\d+) kB', 'm').exec(s)[1]) / 1024\n" +
    '  const m = process.memoryUsage()\n' +
    "  process.stdout.write(JSON.stringify({ rssMiB: mib('VmRSS'), anonMiB: mib('RssAnon'), fileMiB: mib('RssFile')," +
    ' heapUsedMiB: m.heapUsed / 2 ** 20, modules: process.moduleLoadList.length }))\n' +
    `}, ${settleMs})\n`
  )
}

/** Memory of one layer: median of `runs` fresh processes. */
function layer(node, flags, load, { runs = 3, settleMs = 1500 } = {}) {
  const samples = []
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(node, [...flags, '--input-type=module', '-e', probe(load, settleMs)], {
      encoding: 'utf8',
      env: cleanEnv(),
    })
    samples.push(JSON.parse(out))
  }
  samples.sort((a, b) => a.rssMiB - b.rssMiB)
  return samples[Math.floor(samples.length / 2)]
}

/** Rows { what, rssMiB, anonMiB, fileMiB, heapUsedMiB }, from bare node to the proxy's code loaded. */
export function idleLayers(root, options) {
  const { node, flags } = benchNode(root)
  const runModule = pathToFileURL(join(root, 'dist', 'app', 'run.js')).href
  return [
    { what: 'bare `node`', ...layer(node, flags, '', options) },
    {
      what: `\`node\` + the ${BUILTINS.length} Node built-ins the proxy uses`,
      ...layer(
        node,
        flags,
        "import { createRequire } from 'node:module'\n" +
          `for (const m of ${JSON.stringify(BUILTINS)}) createRequire(import.meta.url)('node:' + m)`,
        options,
      ),
    },
    {
      what: "the proxy's code and dependencies loaded, nothing started",
      ...layer(node, flags, `await import(${JSON.stringify(runModule)})`, options),
    },
  ]
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const { version, flags } = benchNode(root)
  console.log(`Node ${version} ${flags.join(' ')}`)
  for (const r of idleLayers(root)) {
    console.log(
      `${r.what}: ${r.rssMiB.toFixed(1)} MiB RSS (${r.anonMiB.toFixed(1)} anonymous, ${r.fileMiB.toFixed(1)} file-backed), heap used ${r.heapUsedMiB.toFixed(1)} MiB`,
    )
  }
}
