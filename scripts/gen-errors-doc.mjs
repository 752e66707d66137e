// Regenerates the tables of docs/errors.md from the error codes and exit codes in dist/ (run after a build).
import { readFileSync, writeFileSync } from 'node:fs'
import { ERROR_CODES } from '../dist/shared/errors.js'
import { exitCodeFor } from '../dist/cli/exit-codes.js'

const doc = new URL('../docs/errors.md', import.meta.url)
const entries = Object.entries(ERROR_CODES)
const http = entries.filter(([, v]) => v.status)
const cli = entries.filter(([, v]) => !v.status)
const tables = {
  http: [
    '| code | HTTP status | meaning |',
    '| --- | --- | --- |',
    ...http.map(([k, v]) => `| \`${k}\` | ${v.status} | ${v.summary} |`),
  ],
  cli: [
    '| code | exit code | meaning |',
    '| --- | --- | --- |',
    ...cli.map(([k, v]) => `| \`${k}\` | ${exitCodeFor(k)} | ${v.summary} |`),
  ],
}
let text = readFileSync(doc, 'utf8')
for (const [name, lines] of Object.entries(tables)) {
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const i = text.indexOf(start)
  const j = text.indexOf(end)
  if (i < 0 || j < 0) throw new Error(`docs/errors.md lacks the ${name} markers`)
  text = text.slice(0, i) + start + '\n' + lines.join('\n') + '\n' + text.slice(j)
}
writeFileSync(doc, text)
