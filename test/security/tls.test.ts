// Upstream TLS: verified by default, a private CA via tls.caFile, and HTTPS_PROXY honoured.
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { connect, type AddressInfo } from 'node:net'
import { request } from 'undici'
import { getToken } from '../../src/cli/token.js'
import { loadConfig } from '../../src/config/load.js'
import { startSimulator } from '../../src/simulator/index.js'
import { LogCapture, simEnv, startStack } from '../helpers.js'
import { selfSigned } from '../oauth/grants/keys.js'

/** A certificate for 127.0.0.1 made by openssl; undefined without openssl. */
function makeCert(dir: string): { key: string; cert: string; certPath: string } | undefined {
  const made = selfSigned(dir, '127.0.0.1')
  return made && { key: readFileSync(made.keyPath, 'utf8'), cert: made.certificatePem, certPath: made.certPath }
}

/** An HTTPS stand-in for OAC that reports whether a bearer token arrived. */
async function httpsUpstream(t: Test, key: string, cert: string): Promise<string> {
  const server = createHttpsServer({ key, cert }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ bearer: /^Bearer ./.test(req.headers.authorization ?? '') }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('an upstream certificate from an unknown CA is refused with upstream_tls_error', async (t) => {
  const made = makeCert(t.testdir())
  if (!made) return t.comment('openssl not available')
  const oac = await httpsUpstream(t, made.key, made.cert)
  const s = await startStack(t, { env: { OAC_PROXY_OAC_URL: oac } })
  const res = await s.get('/api/20210901/snapshots')
  t.equal(res.status, 502)
  const body = res.json() as { error: string; message: string; hint: string }
  t.equal(body.error, 'upstream_tls_error')
  t.match(body.message, /DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED|UNABLE_TO_VERIFY/)
  t.match(body.hint, /tls\.caFile/)
})

t.test('tls.caFile makes the private CA trusted', async (t) => {
  const dir = t.testdir()
  const made = makeCert(dir)
  if (!made) return t.comment('openssl not available')
  const oac = await httpsUpstream(t, made.key, made.cert)
  const s = await startStack(t, { env: { OAC_PROXY_OAC_URL: oac }, file: { tls: { caFile: made.certPath } } })
  const res = await s.get('/api/20210901/anything')
  t.equal(res.status, 200)
  t.same(res.json(), { bearer: true })
})

t.test('HTTPS_PROXY: upstream requests go through the corporate proxy tunnel', async (t) => {
  const dir = t.testdir()
  const made = makeCert(dir)
  if (!made) return t.comment('openssl not available')
  const oac = await httpsUpstream(t, made.key, made.cert)
  const tunnels: string[] = []
  const proxy = createHttpServer()
  proxy.on('connect', (req, client) => {
    tunnels.push(req.url ?? '')
    const [host, port] = (req.url ?? '').split(':')
    const upstream = connect(Number(port), host as string, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.pipe(client)
      client.pipe(upstream)
    })
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    proxy.closeAllConnections()
    return new Promise((resolve) => proxy.close(resolve))
  })
  const saved = process.env.HTTPS_PROXY
  process.env.HTTPS_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
  t.teardown(() => {
    if (saved === undefined) delete process.env.HTTPS_PROXY
    else process.env.HTTPS_PROXY = saved
  })
  const s = await startStack(t, { env: { OAC_PROXY_OAC_URL: oac }, file: { tls: { caFile: made.certPath } } })
  const res = await s.get('/api/20210901/anything')
  t.equal(res.status, 200)
  t.same(res.json(), { bearer: true })
  t.same(tunnels, [new URL(oac).host], 'one CONNECT tunnel to the upstream, through the proxy')
})

t.test('a tls.caFile that is not a certificate is refused at load', async (t) => {
  await t.rejects(startStack(t, { files: () => ({ 'ca.pem': 'nope' }), file: { tls: { caFile: 'ca.pem' } } }), {
    code: 'config_invalid',
    message: /tls\.caFile: .*holds no PEM certificate/,
  })
})

t.test(
  'one-shot commands trust tls.caFile too: `token` refreshes through an identity domain with a private CA',
  async (t) => {
    const dir = t.testdir()
    const made = makeCert(dir)
    if (!made) return t.comment('openssl not available')
    const sim = await startSimulator()
    t.teardown(() => sim.close())
    // the simulated identity domain behind an HTTPS front whose certificate only tls.caFile vouches for
    let tokenCalls = 0
    const front = createHttpsServer({ key: made.key, cert: made.cert }, (req, res) => {
      if (req.url?.startsWith('/oauth2/v1/token')) tokenCalls++
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const headers = { ...req.headers, host: new URL(sim.idcsUrl).host }
        request(sim.idcsUrl + (req.url ?? '/'), {
          method: req.method as 'POST',
          headers,
          body: Buffer.concat(chunks),
        }).then(
          async (up) => {
            res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json') })
            res.end(Buffer.from(await up.body.arrayBuffer()))
          },
          () => res.writeHead(502).end(),
        )
      })
    })
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise((resolve) => front.close(resolve)))
    const config = loadConfig({
      env: {
        ...simEnv(sim, dir),
        OAC_PROXY_IDCS_URL: `https://127.0.0.1:${(front.address() as AddressInfo).port}`,
        OAC_PROXY_REFRESH_TOKEN: sim.issueRefreshToken(),
        OAC_PROXY_TLS_CA_FILE: made.certPath,
      },
      cwd: dir,
    })
    const result = await getToken(config, 'default', new LogCapture().logger())
    t.equal(result.source, 'refresh')
    t.equal(tokenCalls, 1, 'the token call went through the HTTPS front, its certificate trusted')
    t.ok(sim.issued.accessTokens.includes(result.accessToken), 'the token is one the identity domain issued')
  },
)
