// Tools the benchmark needs (nginx, wrk, curl, openssl, kubectl): installed with apt when missing, then their versions.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Unpacked kubernetes-client, kept between runs so a second run installs nothing. */
const TOOLS_DIR = '/tmp/oac-token-proxy-bench-tools'
const POLICY_RC = '/usr/sbin/policy-rc.d'

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : undefined
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, ...opts })
  if (r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status}`
    throw new Error(`${cmd} ${args.join(' ')} failed (${why}):\n${(r.stderr || r.stdout || '').slice(-2000)}`)
  }
  return r.stdout
}

function packageOwning(path) {
  const r = spawnSync('dpkg', ['-S', path], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.split(':')[0].trim() : undefined
}

function installed(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' })
  return r.status === 0 && r.stdout.includes('install ok installed')
}

let updated = false
function aptInstall(pkgs, log) {
  if (pkgs.length === 0) return
  if (process.getuid?.() !== 0) {
    throw new Error(
      `missing packages ${pkgs.join(', ')}: run as root, or install them: apt-get install ${pkgs.join(' ')}`,
    )
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  if (!updated) {
    log('apt-get update')
    sh('apt-get', ['update', '-qq'], { env })
    updated = true
  }
  // keep the packaged nginx service from starting (on port 80) during the install
  const ownPolicy = !existsSync(POLICY_RC)
  if (ownPolicy) writeFileSync(POLICY_RC, '#!/bin/sh\nexit 101\n', { mode: 0o755 })
  try {
    log(`apt-get install ${pkgs.join(' ')}`)
    sh('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs], { env })
  } finally {
    if (ownPolicy) rmSync(POLICY_RC, { force: true })
  }
}

/** kubectl from Debian's kubernetes-client: the installed one, or the .deb unpacked when another package owns kubectl. */
function ensureKubectl(log) {
  if (installed('kubernetes-client')) return '/usr/bin/kubectl'
  const unpacked = join(TOOLS_DIR, 'kubernetes-client', 'usr', 'bin', 'kubectl')
  if (existsSync(unpacked)) return unpacked
  const existing = which('kubectl')
  if (!existing) {
    aptInstall(['kubernetes-client'], log)
    return '/usr/bin/kubectl'
  }
  log(
    `kubectl on PATH belongs to ${packageOwning(existing) ?? 'no package'}: unpacking kubernetes-client into ${TOOLS_DIR}`,
  )
  const dl = join(TOOLS_DIR, 'download')
  mkdirSync(dl, { recursive: true })
  if (!updated) {
    sh('apt-get', ['update', '-qq'])
    updated = true
  }
  sh('apt-get', ['download', 'kubernetes-client'], { cwd: dl })
  const deb = readdirSync(dl).find((f) => f.startsWith('kubernetes-client_') && f.endsWith('.deb'))
  if (!deb) throw new Error('apt-get download kubernetes-client produced no .deb')
  sh('dpkg-deb', ['-x', join(dl, deb), join(TOOLS_DIR, 'kubernetes-client')])
  rmSync(dl, { recursive: true, force: true })
  if (!existsSync(unpacked)) throw new Error(`kubernetes-client unpacked but ${unpacked} is missing`)
  return unpacked
}

/** Makes sure every tool is there; returns their paths. Throws with a clear message otherwise. */
export function ensureTools(log = console.error) {
  const wanted = { nginx: 'nginx', wrk: 'wrk', curl: 'curl', openssl: 'openssl', taskset: 'util-linux' }
  const missing = Object.entries(wanted)
    .filter(([cmd]) => !which(cmd) && !(cmd === 'nginx' && existsSync('/usr/sbin/nginx')))
    .map(([, pkg]) => pkg)
  aptInstall([...new Set(missing)], log)
  const tools = {
    nginx: which('nginx') ?? '/usr/sbin/nginx',
    wrk: which('wrk'),
    curl: which('curl'),
    openssl: which('openssl'),
    kubectl: ensureKubectl(log),
  }
  for (const [name, path] of Object.entries(tools)) {
    if (!path || !existsSync(path)) throw new Error(`${name} could not be installed (looked for ${path ?? name})`)
  }
  return tools
}

function firstMatch(cmd, args, re) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 })
  const m = re.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)
  return m?.slice(1).find(Boolean) ?? 'unknown'
}

export function toolVersions(tools, root) {
  return {
    node: process.version,
    'oac-token-proxy': JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version,
    nginx: firstMatch(tools.nginx, ['-v'], /nginx\/(\S+)/),
    wrk: firstMatch(tools.wrk, ['-v'], /wrk (\S+)/),
    kubectl: firstMatch(tools.kubectl, ['version', '--client'], /GitVersion:"(v[^"]+)"|Client Version: (v\d[^\s"]*)/),
    curl: firstMatch(tools.curl, ['--version'], /curl (\S+)/),
    openssl: firstMatch(tools.openssl, ['version'], /OpenSSL (\S+)/),
  }
}

function newestMtime(dir) {
  let newest = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return newest
}

/** Builds dist/ with the project's TypeScript compiler, unless dist/ is newer than src/ (npm run bench built it). */
export function build(root, log = console.error) {
  const cli = join(root, 'dist', 'cli.js')
  const sources = Math.max(newestMtime(join(root, 'src')), statSync(join(root, 'tsconfig.json')).mtimeMs)
  if (existsSync(cli) && statSync(cli).mtimeMs > sources) {
    log('dist/ is up to date')
    return
  }
  log('building dist/ (tsc -p tsconfig.json)')
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
    cwd: root,
    stdio: 'inherit',
    timeout: 300_000,
  })
}
