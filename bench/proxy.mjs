// Starts the built oac-token-proxy as its own process (node dist/cli.js serve) against the simulator's IDCS.
import { writeFileSync } from 'node:fs'
import { get } from 'node:http'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { benchNode } from './node.mjs'
import { makeTempDir, pinned, startChild } from './proc.mjs'

/** GET on loopback without keep-alive; resolves { status, body }. */
export function httpGet(url, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode, body }))
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)))
    req.on('error', reject)
  })
}

/** The proxy's /-/status, parsed. */
export async function proxyStatus(port) {
  const r = await httpGet(`http://127.0.0.1:${port}/-/status`)
  if (r.status !== 200) throw new Error(`/-/status answered ${r.status}`)
  return JSON.parse(r.body)
}

/**
 * Writes DIR/config.yaml for a proxy on 127.0.0.1:`port` to `oacUrl` with the simulator's IDCS (warn-level JSON logs,
 * no request lines), its client secret and a fresh refresh token in 0600 files beside it; returns the config's path.
 */
export function writeProxyConfig(dir, { sim, port, oacUrl = sim.oacUrl, caFile }) {
  writeFileSync(join(dir, 'client-secret'), sim.clientSecret, { mode: 0o600 })
  writeFileSync(join(dir, 'refresh-token'), sim.issueRefreshToken(), { mode: 0o600 })
  const config = {
    oacUrl,
    idcsUrl: sim.idcsUrl,
    clientId: sim.clientId,
    clientSecret: { file: 'client-secret' },
    scope: sim.scope,
    refreshToken: { file: 'refresh-token' },
    stateFile: 'state.json',
    listen: { host: '127.0.0.1', port },
    log: { level: 'warn', requests: false, format: 'json' },
    ...(caFile ? { tls: { caFile } } : {}),
  }
  const configFile = join(dir, 'config.yaml')
  // JSON is YAML
  writeFileSync(configFile, JSON.stringify(config, null, 2), { mode: 0o600 })
  return configFile
}

/**
 * Writes a config (secret and refresh token in 0600 files) and starts the proxy; resolves once /-/readyz is 200.
 * It runs on the image's Node line with the image's V8 flags (bench/node.mjs); `nodeArgs` go after them (e.g. --cpu-prof).
 */
export async function startOacProxy({
  root,
  sim,
  port,
  oacUrl,
  caFile,
  cpus,
  nodeArgs = [],
  name = 'oac-token-proxy',
}) {
  const dir = makeTempDir('oac-bench-proxy-')
  const configFile = writeProxyConfig(dir, { sim, port, oacUrl, caFile })
  const script = join(root, 'dist', 'cli.js')
  const { node, flags } = benchNode(root)
  const [cmd, args] = pinned(cpus, node, [...flags, ...nodeArgs, script, 'serve', '--config', configFile])
  const handle = startChild(name, cmd, args, { cwd: dir })
  const deadline = Date.now() + 15_000
  for (;;) {
    if (handle.exited) throw new Error(`${name} exited during start:\n${handle.output()}`)
    const r = await httpGet(`http://127.0.0.1:${port}/-/readyz`).catch(() => undefined)
    if (r?.status === 200) break
    if (Date.now() > deadline) throw new Error(`${name} not ready within 15 s:\n${handle.output()}`)
    await sleep(50)
  }
  return { handle, pid: handle.pid, port, dir }
}
