// node:http through require: an ES import of it would load Node's own bundled undici (its WebSocket getter).
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const NODE_HTTP = fileURLToPath(new URL('../../dist/shared/node-http.js', import.meta.url))

/** Whether a fresh Node process that runs the ES module `source` has loaded Node's bundled undici. */
function loadsBundledUndici(source: string): boolean {
  const check = "process.stdout.write(String(process.moduleLoadList.some((x) => x.includes('deps/undici'))))"
  return (
    execFileSync(process.execPath, ['--input-type=module', '-e', `${source}\n${check}`], { encoding: 'utf8' }) ===
    'true'
  )
}

t.test("an ES import of node:http loads Node's bundled undici (why shared/node-http.ts exists)", async (t) => {
  t.equal(loadsBundledUndici("import 'node:http'"), true)
})

t.test('shared/node-http.js gives createServer without it', async (t) => {
  t.equal(
    loadsBundledUndici(`import { createServer } from ${JSON.stringify(NODE_HTTP)}; createServer().close()`),
    false,
  )
})
