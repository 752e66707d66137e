// The single-file executable is one bundled CommonJS script: import.meta is empty there, so every source file that
// uses it (createRequire, a file next to dist/) must be rewritten by scripts/build-sea.mjs for the bundle.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
}

t.test('every source file that uses import.meta is rewritten for the bundle', async (t) => {
  const script = readFileSync(join(root, 'scripts', 'build-sea.mjs'), 'utf8')
  const handled = [...script.matchAll(/join\(root, 'dist', ((?:'[\w-]+\.?\w*',? ?)+)\)/g)].map((m) =>
    [...(m[1] as string).matchAll(/'([\w.-]+)'/g)].map((p) => p[1]).join('/'),
  )
  t.ok(handled.includes('net/undici.js'), 'the check reads the rewritten files from build-sea.mjs')
  const users = sources(join(root, 'src'))
    .filter((f) => /\bimport\.meta\b/.test(readFileSync(f, 'utf8').replace(/^\s*(\/\/|\*).*$/gm, '')))
    .map((f) => relative(join(root, 'src'), f).replace(/\.ts$/, '.js'))
  t.ok(users.length > 0)
  t.same(
    users.filter((f) => !handled.includes(f)),
    [],
    'files using import.meta that build-sea.mjs does not rewrite',
  )
})
