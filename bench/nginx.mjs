// nginx twice: the upstream stand-in (plain HTTP + HTTPS) and the reverse-proxy row with a static bearer token.
import { mkdirSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { childPids, makeTempDir, pinned, runBounded, startChild, waitForPort } from './proc.mjs'

export const CATALOG_PATH = '/api/20210901/catalog'
export const DOWNLOAD_PATH = '/api/20210901/download'
export const UPLOAD_PATH = '/api/20210901/upload'
export const HUGE_PATH = '/api/20210901/download-huge'
/**
 * The static bearer token of the peers (direct, nginx, kubectl, the reference proxy): as long as an access token
 * from the simulator (about 1 KB, like IDCS's), so every row moves the same header bytes.
 */
export const STATIC_TOKEN = 'bench-static-token-'.padEnd(1000, '0123456789abcdef')

/** A CA and a server certificate for 127.0.0.1 signed by it (ECDSA P-256, 2 days). */
export async function makeCertificates(dir, openssl) {
  const f = (name) => join(dir, name)
  const run = async (args) => {
    const r = await runBounded(openssl, args, { timeoutMs: 30_000 })
    if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`)
  }
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await run(['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=bench CA'])
  await run(['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1'])
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
  await run([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.crt'),
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
  ])
  return { caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') }
}

function common(dir) {
  for (const d of ['proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { recursive: true })
  return `daemon off;
master_process on;
worker_processes 1;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
`
}

function temps(dir, bodyDir) {
  return `  access_log off;
  client_body_temp_path ${bodyDir};
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;`
}

const AUTH_CHECK = 'if ($http_authorization !~ "^Bearer .+") { return 401; }'

/**
 * The upstream stand-in: GET catalog (1 KB JSON), GET download (the big file, sendfile), PUT upload (the whole
 * body is read into a temp file on tmpfs before the answer: proxy_pass with request buffering to a tiny
 * internal server over a unix socket, without the body). Every path answers 401 without a bearer token.
 */
export function standinConfig({ dir, bodyDir, httpPort, httpsPort, certs, bigFile, hugeFile, catalogFile }) {
  return `${common(dir)}http {
${temps(dir, bodyDir)}
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 75s;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:${httpPort};
    listen 127.0.0.1:${httpsPort} ssl;
    ssl_certificate ${certs.certFile};
    ssl_certificate_key ${certs.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:1m;
    client_max_body_size 2g;
    client_body_buffer_size 64k;
    location = ${CATALOG_PATH} {
      ${AUTH_CHECK}
      default_type application/json;
      alias ${catalogFile};
    }
    location = ${DOWNLOAD_PATH} {
      ${AUTH_CHECK}
      alias ${bigFile};
    }
    location = ${HUGE_PATH} {
      ${AUTH_CHECK}
      alias ${hugeFile};
    }
    location = ${UPLOAD_PATH} {
      ${AUTH_CHECK}
      proxy_pass http://unix:${dir}/sink.sock:/uploaded;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Expect "";
      proxy_set_header X-Request-Length $request_length;
    }
    location / { return 404; }
  }
  server {
    listen unix:${dir}/sink.sock;
    location = /uploaded {
      default_type application/json;
      return 200 '{"requestBytes":$http_x_request_length}';
    }
  }
}
`
}

/** nginx as the reverse proxy: static Authorization header, keepalive pool to the plain-HTTP stand-in, streaming, 64 KB buffers. */
export function proxyConfig({ dir, bodyDir, port, upstreamPort }) {
  return `${common(dir)}http {
${temps(dir, bodyDir)}
  keepalive_timeout 75s;
  keepalive_requests 10000000;
  upstream standin {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 200m;
    location / {
      proxy_pass http://standin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer ${STATIC_TOKEN}";
      proxy_request_buffering off;
      proxy_max_temp_file_size 0;
      # 64 KB buffers (node streams and Go's io.Copy move 32-64 KB at a time; nginx's 4-8 KB default halves its MB/s)
      proxy_buffer_size 64k;
      proxy_buffers 8 64k;
      proxy_busy_buffers_size 128k;
      client_body_buffer_size 64k;
    }
  }
}
`
}

/** Starts nginx (daemon off) on `conf`; resolves { handle, workerPid } once `port` answers. */
export async function startNginx(name, nginxBin, dir, conf, port, cpus) {
  const confFile = join(dir, 'nginx.conf')
  writeFileSync(confFile, conf)
  const [cmd, args] = pinned(cpus, nginxBin, ['-p', dir, '-c', confFile, '-e', join(dir, 'error.log')])
  const handle = startChild(name, cmd, args)
  await waitForPort(port, 10_000, handle)
  let workers = []
  for (let i = 0; i < 100 && workers.length === 0; i++) {
    workers = childPids(handle.pid)
    if (workers.length === 0) await sleep(20)
  }
  if (workers.length !== 1) throw new Error(`${name}: expected 1 nginx worker, found ${workers.length}`)
  handle.extraPids = workers
  return { handle, workerPid: workers[0] }
}

/** Starts the stand-in: writes its files (1 KB JSON; the big file must exist) and certificates in a temp dir. */
export async function startStandin({ nginxBin, bigFile, hugeFile, certs, cpus, httpPort, httpsPort }) {
  const dir = makeTempDir('oac-bench-standin-')
  // request bodies are spooled to tmpfs, so the upload measures the network path, not the disk
  const bodyDir = existsSync('/dev/shm') ? makeTempDir('oac-bench-body-', '/dev/shm') : join(dir, 'body')
  const catalogFile = join(dir, 'catalog.json')
  writeFileSync(catalogFile, catalogBody(1024))
  const conf = standinConfig({ dir, bodyDir, httpPort, httpsPort, certs, bigFile, hugeFile, catalogFile })
  const nginx = await startNginx('nginx stand-in', nginxBin, dir, conf, httpPort, cpus)
  await waitForPort(httpsPort, 5000, nginx.handle)
  return { ...nginx, dir }
}

/** A JSON body of exactly `size` bytes. */
export function catalogBody(size) {
  const head = '{"items":[{"id":"/shared/Sales/Revenue","type":"workbook","name":"Revenue"}],"pad":"'
  const tail = '"}\n'
  return head + 'x'.repeat(size - head.length - tail.length) + tail
}
