// The deployment recipes are well-formed and keep their promises (native sidecar, probes, hardening).
import t from 'tap'
import { readFileSync } from 'node:fs'
import { parse, parseAllDocuments } from 'yaml'
import { ERROR_CODES, TERMINAL_OAUTH_ERRORS, type ErrorCode } from '../src/shared/errors.js'
import { EXIT, exitCodeFor } from '../src/cli/exit-codes.js'

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8')

t.test(
  'Kubernetes: the proxy is a native sidecar with exec probes, a secret and a persistent state volume',
  async (t) => {
    const docs = parseAllDocuments(read('deploy/kubernetes/pod.yaml')).map((d) => d.toJS() as Record<string, unknown>)
    const pod = docs.find((d) => d.kind === 'Pod') as { spec: Record<string, unknown> }
    t.ok(pod, 'a Pod')
    const init = (pod.spec.initContainers as Array<Record<string, unknown>>).find((c) =>
      String(c.image).includes('oac-token-proxy'),
    )
    t.ok(init, 'the proxy is an init container')
    t.equal(init?.restartPolicy, 'Always', 'native sidecar')
    t.match(JSON.stringify((init?.readinessProbe as { exec?: unknown })?.exec), /\/-\/readyz/)
    t.match(JSON.stringify((init?.livenessProbe as { exec?: unknown })?.exec), /\/-\/healthz/)
    const sc = init?.securityContext as Record<string, unknown>
    t.equal(sc.readOnlyRootFilesystem, true)
    t.equal(sc.allowPrivilegeEscalation, false)
    const volumes = JSON.stringify(pod.spec.volumes)
    t.match(volumes, /persistentVolumeClaim/)
    t.match(volumes, /secret/)
    for (const f of ['configmap.yaml', 'secret.example.yaml', 'pvc.yaml']) {
      t.ok(
        parseAllDocuments(read(`deploy/kubernetes/${f}`)).every((d) => d.errors.length === 0),
        `${f} parses`,
      )
    }
  },
)

t.test('Compose: the app shares the proxy network namespace, the proxy is read-only with a state volume', async (t) => {
  const compose = parse(read('deploy/docker-compose.yml')) as { services: Record<string, Record<string, unknown>> }
  const proxy = compose.services['oac-token-proxy'] as Record<string, unknown>
  t.ok(proxy, 'a service named oac-token-proxy')
  t.equal(proxy.read_only, true)
  t.match(JSON.stringify(proxy.volumes), /\/var\/lib\/oac-token-proxy/)
  const app = Object.values(compose.services).find((s) => s.network_mode === 'service:oac-token-proxy')
  t.ok(app, 'an app container on the proxy network namespace')
})

t.test('systemd: hardened unit', async (t) => {
  const unit = read('deploy/systemd/oac-token-proxy.service')
  for (const directive of [
    'DynamicUser=yes',
    'StateDirectory=oac-token-proxy',
    'ProtectSystem=strict',
    'NoNewPrivileges=yes',
    'PrivateTmp=yes',
  ]) {
    t.match(unit, new RegExp(`^${directive}$`, 'm'), directive)
  }
  t.notMatch(unit, /^MemoryDenyWriteExecute=yes/m, 'V8 needs W+X pages')
  t.match(unit, /^ExecStart=.*dist\/cli\.js serve/m)
})

t.test('systemd: configuration and state errors are not restarted, runtime failures are', async (t) => {
  const unit = read('deploy/systemd/oac-token-proxy.service')
  t.match(unit, /^Restart=on-failure$/m)
  const prevented = new Set((/^RestartPreventExitStatus=(.*)$/m.exec(unit)?.[1] ?? '').trim().split(/\s+/).map(Number))
  // every start-up error of serve that no restart can fix
  const permanent = (Object.keys(ERROR_CODES) as ErrorCode[]).filter((c) => /^(config_|secret_|state_)/.test(c))
  t.ok(permanent.includes('state_mismatch'))
  for (const code of permanent)
    t.ok(prevented.has(exitCodeFor(code)), `${code} (exit ${exitCodeFor(code)}) is not restarted`)
  t.notOk(prevented.has(EXIT.failure), 'exit 1 (port taken, identity domain down) is retried')
  t.notOk(prevented.has(EXIT.ok))
})

t.test('docs/troubleshooting.md covers each identity-domain error', async (t) => {
  const doc = read('docs/troubleshooting.md')
  for (const e of [...TERMINAL_OAUTH_ERRORS, 'expired_token', 'slow_down', 'authorization_pending', '429'])
    t.match(doc, e, e)
})
