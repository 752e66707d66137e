// Memory in a few seconds: idle RSS and peak RSS (c=50 GETs, then 100 MiB transfers) of oac-token-proxy and the
// reference on the image's Node line, with the bench's short timings. Not a replacement for `npm run bench`.
// Alone: npm run build && node bench/footprint.mjs   ($BENCH_NODE_FLAGS="..." tries other V8 flags on both)
import { join } from 'node:path'
import { cpus as osCpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { ensureTools } from './install.mjs'
import { benchNode } from './node.mjs'
import { cpuPlan, measureRow, writeBodyFiles } from './measure.mjs'
import { makeCertificates, startStandin, STATIC_TOKEN } from './nginx.mjs'
import {
  cleanupSync,
  freePort,
  installCleanupHandlers,
  makeTempDir,
  pinned,
  startChild,
  stopChild,
  waitForPort,
} from './proc.mjs'
import { startOacProxy } from './proxy.mjs'
import { REFERENCE } from './report.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIG_SIZE = 100 * 2 ** 20
const TIMING = { idleMs: 2000, warmupS: 1, c1S: 2, c50S: 5, transfers: 1 }

async function main() {
  installCleanupHandlers()
  const tools = ensureTools()
  const { node, flags, version } = benchNode(ROOT)
  const cpus = cpuPlan(osCpus().length >= 2)
  const dir = makeTempDir()
  const files = writeBodyFiles(dir, { bigSize: BIG_SIZE, hugeSize: 0 })
  const certs = await makeCertificates(dir, tools.openssl)
  const httpPort = await freePort()
  const standin = await startStandin({
    nginxBin: tools.nginx,
    ...files,
    certs,
    cpus: cpus.client,
    httpPort,
    httpsPort: await freePort(),
  })
  const { startSimulator } = await import('../dist/simulator/index.js')
  const sim = await startSimulator()
  const ourPids = [standin.handle.pid, standin.workerPid]
  const measure = async (name, started) => {
    try {
      const row = await measureRow({
        tools,
        base: started.base,
        pid: started.pid,
        headers: [],
        ourPids,
        files,
        cpus,
        timing: TIMING,
      })
      process.stdout.write(
        `${name}: idle ${row.idleRssMiB.toFixed(1)} MiB, peak ${row.peakRssMiB.toFixed(1)} MiB ` +
          `(${row.hwmAfterC50MiB.toFixed(1)} before the transfers); ${row.c50.rps.toFixed(0)} req/s c=50 ` +
          `(${row.cpuUsPerReq.toFixed(1)} µs CPU/req), ` +
          `down/up ${row.downloadMiBs.toFixed(0)}/${row.uploadMiBs.toFixed(0)} MB/s, ` +
          `other load ${row.foreignCores.toFixed(2)} cores\n`,
      )
    } finally {
      await stopChild(started.handle)
    }
  }
  process.stdout.write(`Node ${version} ${flags.join(' ')}\n`)
  const port = await freePort()
  const p = await startOacProxy({ root: ROOT, sim, port, oacUrl: `http://127.0.0.1:${httpPort}`, cpus: cpus.proxy })
  await measure('oac-token-proxy', { base: `http://127.0.0.1:${port}`, pid: p.pid, handle: p.handle })
  const refPort = await freePort()
  const script = join(ROOT, 'bench', 'reference-proxy.mjs')
  const [cmd, args] = pinned(cpus.proxy, node, [...flags, script, String(refPort), String(httpPort), STATIC_TOKEN])
  const handle = startChild(REFERENCE, cmd, args)
  await waitForPort(refPort, 10_000, handle)
  await measure(REFERENCE, { base: `http://127.0.0.1:${refPort}`, pid: handle.pid, handle })
  await sim.close()
  await stopChild(standin.handle, 'SIGQUIT')
}

main().then(
  () => {
    cleanupSync()
    process.exit(0)
  },
  (err) => {
    process.stderr.write(`footprint: ${err.stack ?? err}\n`)
    cleanupSync()
    process.exit(1)
  },
)
