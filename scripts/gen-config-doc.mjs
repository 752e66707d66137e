// Regenerates the options table of docs/configuration.md from the option table in dist/ (run after a build).
import { readFileSync, writeFileSync } from 'node:fs'
import { envName, OPTIONS } from '../dist/config/options.js'

const doc = new URL('../docs/configuration.md', import.meta.url)
const rows = OPTIONS.map((o) => {
  const env = o.noEnv
    ? '— (file only)'
    : o.type === 'secret'
      ? `\`${envName(o.path)}\`, \`${envName(o.path)}_FILE\``
      : `\`${envName(o.path)}\``
  const def = o.required ? 'required' : o.default === undefined ? '—' : `\`${o.default}\``
  const flag = o.flag ? `\`--${o.flag}\`` : '—'
  const type = o.type === 'enum' ? o.enum.join(' \\| ') : o.type
  const scope = o.credential ? ' *(credential key)*' : ''
  return `| \`${o.path}\` | ${type} | ${def} | ${env} | ${flag} | ${o.description}${scope} |`
})
const table = [
  '| key | type | default | environment | flag | meaning |',
  '| --- | --- | --- | --- | --- | --- |',
  ...rows,
].join('\n')
const text = readFileSync(doc, 'utf8')
const start = text.indexOf('<!-- options:start -->')
const end = text.indexOf('<!-- options:end -->')
if (start < 0 || end < 0) throw new Error('docs/configuration.md lacks the options markers')
writeFileSync(doc, text.slice(0, start) + '<!-- options:start -->\n' + table + '\n' + text.slice(end))
