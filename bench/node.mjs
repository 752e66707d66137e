// The Node the bench runs every Node proxy on: the image's line (fetched from the npm registry) with the image's V8 flags.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { fetchNode, imageNodeLine } from '../scripts/fetch-node.mjs'
import { V8_FLAGS } from '../scripts/v8-flags.mjs'

let cached

/**
 * { node, flags, version }; $BENCH_NODE (a node binary) overrides the image's line and $BENCH_NODE_FLAGS
 * (space-separated) the flags, e.g. to compare lines or flags. Every Node proxy of a run gets the same.
 */
export function benchNode(root) {
  if (cached) return cached
  const node = process.env.BENCH_NODE || join(fetchNode(imageNodeLine(root)), 'node')
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()
  const flags =
    process.env.BENCH_NODE_FLAGS !== undefined ? process.env.BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean) : V8_FLAGS
  cached = { node, flags, version }
  return cached
}
