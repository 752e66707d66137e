// kubectl proxy as a Go peer: a kubeconfig with a static token and the stand-in's CA, forwarding to the HTTPS stand-in.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cleanEnv, makeTempDir, pinned, startChild, waitForPort } from './proc.mjs'
import { STATIC_TOKEN } from './nginx.mjs'

/** kubectl only sends the kubeconfig's bearer token over https, hence the HTTPS stand-in and its CA. */
export function kubeconfig({ server, caFile, token = STATIC_TOKEN }) {
  const ca = readFileSync(caFile).toString('base64')
  return `apiVersion: v1
kind: Config
clusters:
  - name: standin
    cluster:
      server: ${server}
      certificate-authority-data: ${ca}
users:
  - name: bench
    user:
      token: ${token}
contexts:
  - name: bench
    context:
      cluster: standin
      user: bench
current-context: bench
`
}

/** Starts `kubectl proxy` on `port`; resolves { handle, pid } once it listens. */
export async function startKubectlProxy({ kubectl, port, httpsPort, caFile, cpus }) {
  const dir = makeTempDir('oac-bench-kubectl-')
  const file = join(dir, 'kubeconfig')
  writeFileSync(file, kubeconfig({ server: `https://127.0.0.1:${httpsPort}`, caFile }), { mode: 0o600 })
  const args = [
    '--kubeconfig',
    file,
    '--cache-dir',
    join(dir, 'cache'),
    'proxy',
    `--port=${port}`,
    '--address=127.0.0.1',
    '--accept-hosts=^127\\.0\\.0\\.1$',
  ]
  const [cmd, argv] = pinned(cpus, kubectl, args)
  const handle = startChild('kubectl proxy', cmd, argv, { env: cleanEnv({ HOME: dir, KUBECONFIG: file }) })
  await waitForPort(port, 15_000, handle)
  return { handle, pid: handle.pid, dir }
}
