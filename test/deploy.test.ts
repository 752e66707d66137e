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

interface Container {
  name: string
  image: string
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath?: string } } }>
  args?: string[]
  restartPolicy?: string
  volumeMounts?: Array<{ name: string; mountPath: string }>
}

t.test('Kubernetes fleet: N replicas with sidecars share one Redis, no state volume on the proxies', async (t) => {
  const docs = parseAllDocuments(read('deploy/kubernetes/fleet.yaml')).map((d) => {
    t.same(d.errors, [], 'fleet.yaml parses')
    return d.toJS() as {
      kind: string
      metadata: { name: string }
      spec: unknown
      data?: Record<string, string>
    }
  })
  t.notOk(
    docs.some((d) => d.kind === 'Secret'),
    'no Secret in the manifest (applying it would overwrite the real one)',
  )
  const config = parse(docs.find((d) => d.kind === 'ConfigMap')?.data?.['config.yaml'] ?? '') as {
    store?: Record<string, unknown>
    listen?: { host?: string }
  }
  t.match(config.store?.url, /^redis:\/\/oac-token-proxy-redis:6379/, 'store.url names the Redis Service')
  t.same(config.store?.encryptionKey, { file: '/run/secrets/oac-token-proxy/store-key' }, 'tokens encrypted at rest')
  t.match(config.store?.password, { file: String }, 'the Redis password comes from a file')
  t.notMatch(String(config.store?.url), /@/, 'no password in the URL')
  t.equal(config.listen?.host, '127.0.0.1', 'the proxies stay on their pod loopback')

  const app = docs.find((d) => d.kind === 'Deployment') as {
    spec: { replicas: number; template: { spec: { initContainers: Container[]; volumes: unknown[] } } }
  }
  t.ok(app.spec.replicas >= 2, 'several replicas')
  const proxy = app.spec.template.spec.initContainers.find((c) => c.image.includes('oac-token-proxy'))
  t.equal(proxy?.restartPolicy, 'Always', 'native sidecar')
  t.same(proxy?.args, ['serve'])
  const replicaId = proxy?.env?.find((e) => e.name === 'OAC_PROXY_STORE_REPLICA_ID')
  t.equal(replicaId?.valueFrom?.fieldRef?.fieldPath, 'metadata.name', 'each replica is named after its pod')
  t.notMatch(JSON.stringify(app.spec.template.spec.volumes), /persistentVolumeClaim/, 'no state volume on the proxies')

  const redis = docs.find((d) => d.kind === 'StatefulSet') as {
    spec: { template: { spec: { containers: Container[] } } }
  }
  const args = redis.spec.template.spec.containers[0]?.args ?? []
  t.equal(args[args.indexOf('--maxmemory-policy') + 1], 'noeviction', 'state keys are never evicted')
  t.ok(args.includes('--aclfile'), 'users from an ACL file')
  t.notMatch(args.join(' '), /requirepass/, 'no password on the command line')
  const service = docs.find((d) => d.kind === 'Service')
  t.equal(service?.metadata.name, 'oac-token-proxy-redis', 'the Service store.url names')
  t.ok(
    docs.some((d) => d.kind === 'NetworkPolicy'),
    'only the proxies reach Redis',
  )
  const secret = parse(read('deploy/kubernetes/fleet-secret.example.yaml')) as { stringData: Record<string, string> }
  t.same(Object.keys(secret.stringData).sort(), ['client-secret', 'redis-password', 'redis.acl', 'store-key'])
  t.match(secret.stringData['redis.acl'], /^user default off$/m, 'the default user is off')
})

t.test('Compose fleet: proxy + app pairs, one Redis, one config, a replica id each', async (t) => {
  const compose = parse(read('deploy/docker-compose.fleet.yml'), { merge: true }) as {
    services: Record<string, Record<string, unknown>>
    secrets: Record<string, { file: string }>
  }
  const proxies = Object.entries(compose.services).filter(([, s]) => JSON.stringify(s.command) === '["serve"]')
  t.ok(proxies.length >= 2, 'several proxies')
  const ids = proxies.map(([, s]) => (s.environment as Record<string, string>).OAC_PROXY_STORE_REPLICA_ID)
  t.equal(new Set(ids).size, proxies.length, 'each proxy has its own replica id')
  for (const [name, s] of proxies) {
    t.equal(s.read_only, true, `${name} is read-only`)
    t.match(
      JSON.stringify(s.volumes),
      /config\.fleet\.yaml:\/etc\/oac-token-proxy\/config\.yaml:ro/,
      `${name}: the shared config`,
    )
    t.notMatch(JSON.stringify(s.volumes ?? []), /\/var\/lib\/oac-token-proxy/, `${name}: no state volume`)
    t.ok(
      Object.values(compose.services).some((a) => a.network_mode === `service:${name}`),
      `${name} has an app on its network namespace`,
    )
  }
  const redis = compose.services.redis as { command: string[] }
  t.equal(redis.command[redis.command.indexOf('--maxmemory-policy') + 1], 'noeviction')
  t.ok(redis.command.includes('--aclfile'))
  t.same(Object.keys(compose.secrets).sort(), ['oac_client_secret', 'oac_store_key', 'redis_acl', 'redis_password'])
})
