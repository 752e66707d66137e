// Scans the log output of the whole test run for every secret the tests configured or the simulator issued.
// `--reset` clears the previous run's records; without it, prints the figures and fails on any hit.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'

const dir = new URL('../test-output/leak-scan/', import.meta.url)
if (process.argv.includes('--reset')) {
  rmSync(dir, { recursive: true, force: true })
  process.exit(0)
}
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : []
const secrets = new Set()
const logs = []
for (const f of files) {
  const record = JSON.parse(readFileSync(new URL(f, dir), 'utf8'))
  for (const s of record.secrets) if (typeof s === 'string' && s.length >= 8) secrets.add(s)
  logs.push({ file: record.file, lines: record.lines })
}
let lines = 0
const hits = []
for (const { file, lines: ls } of logs) {
  lines += ls.length
  for (const line of ls)
    for (const s of secrets) if (line.includes(s)) hits.push({ file, secret: `${s.slice(0, 4)}… (${s.length} chars)` })
}
console.log(
  `leak scan: ${lines} log lines from ${files.length} test processes, ${secrets.size} secrets, ${hits.length} hits`,
)
for (const h of hits.slice(0, 20)) console.log(`  leak in ${h.file}: ${h.secret}`)
if (files.length === 0 || secrets.size === 0 || lines === 0) {
  console.log('leak scan: nothing was recorded, so nothing is proven')
  process.exit(1)
}
process.exit(hits.length === 0 ? 0 : 1)
