// A reference point, not a product: the smallest Node proxy that does the same forwarding (node:http server,
// undici Pool, static Authorization header, bodies piped both ways, no checks, no metrics, no logging).
// Its row shows what Node itself costs on this machine, so the distance from it to oac-token-proxy is what
// Fastify, @fastify/http-proxy and the proxy's own work cost.
// Usage: node bench/reference-proxy.mjs PORT UPSTREAM_PORT TOKEN
import { createServer } from 'node:http'
import { Pool } from 'undici'

const [port, upstreamPort, token] = process.argv.slice(2)
const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 128 })
const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection']

const server = createServer((req, res) => {
  const headers = { ...req.headers, authorization: `Bearer ${token}` }
  for (const h of HOP_BY_HOP) delete headers[h]
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
  pool.request({ path: req.url, method: req.method, headers, body: hasBody ? req : null }, (err, up) => {
    if (err) {
      res.writeHead(502).end()
      return
    }
    delete up.headers['transfer-encoding']
    delete up.headers.connection
    res.writeHead(up.statusCode, up.headers)
    up.body.pipe(res)
  })
})
server.keepAliveTimeout = 75_000
server.listen(Number(port), '127.0.0.1')
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0))
