// The shape of src/ (docs/architecture.md): imports point one way down the stages, no import cycles,
// files a reader can hold and functions that fit on a screen. Read from the source with TypeScript's parser.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SRC = join(ROOT, 'src')

/** The stages, top first: a file may import its own stage or any stage below it, never one above. */
export const STAGES = ['cli', 'app', 'proxy', 'admin', 'token', 'oauth', 'net', 'config', 'shared'] as const

const MAX_FILE_LINES = 350
const MAX_FUNCTION_LINES = 80
/** A function longer than MAX_FUNCTION_LINES carries this comment, with its reason, on the line above it. */
const LONG_FUNCTION_MARK = 'long-function:'
/** Generated files (npm run docs), not read by people. */
const GENERATED = new Set(['config/schema-validator.ts'])

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
}

const FILES = sourceFiles(SRC).map((f) => relative(SRC, f))

/** What a file is, for the rules: its stage, or a part of the simulator. */
export function placeOf(file: string): string {
  if (file === 'cli.ts') return 'cli'
  const [top, second] = file.split('/')
  if (top !== 'simulator') return top ?? ''
  if (file === 'simulator/index.ts') return 'simulator'
  if (second === 'idcs' || second === 'oac') return `simulator/${second}`
  return 'simulator/common'
}

/** Whether a file in place `from` may import a file in place `to`. */
export function mayImport(from: string, to: string): boolean {
  if (from === to) return true
  if (from.startsWith('simulator')) {
    // the simulator stands beside the proxy: its entry composes IDCS and OAC, which share only the common part
    if (to === 'shared' || to === 'simulator/common') return true
    return from === 'simulator' && (to === 'simulator/idcs' || to === 'simulator/oac')
  }
  // only the command line starts the simulator (demo, simulate)
  if (to.startsWith('simulator')) return from === 'cli' && (to === 'simulator' || to === 'simulator/common')
  const a = STAGES.indexOf(from as (typeof STAGES)[number])
  const b = STAGES.indexOf(to as (typeof STAGES)[number])
  return a >= 0 && b >= 0 && a <= b
}

/** The project files a source file imports (static, dynamic and type-only imports alike). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8')
  const info = ts.preProcessFile(text, true, true)
  return info.importedFiles
    .map((i) => i.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => relative(SRC, resolve(dirname(join(SRC, file)), spec)).replace(/\.js$/, '.ts'))
}

const GRAPH = new Map(FILES.map((f) => [f, importsOf(f)]))

t.test('every stage and simulator part named in the rules exists', async (t) => {
  const places = new Set(FILES.map(placeOf))
  for (const stage of STAGES) t.ok(places.has(stage), `src/${stage}/ exists`)
  t.same(
    [...places].filter((p) => !STAGES.includes(p as never) && !p.startsWith('simulator')),
    [],
    'no file outside a stage',
  )
})

t.test('every import resolves to a source file', async (t) => {
  const missing = [...GRAPH].flatMap(([f, deps]) => deps.filter((d) => !GRAPH.has(d)).map((d) => `${f} -> ${d}`))
  t.same(missing, [])
})

t.test(
  'imports point down the stages: cli -> app -> proxy -> admin -> token -> oauth -> net -> config -> shared',
  async (t) => {
    const upward = [...GRAPH].flatMap(([f, deps]) =>
      deps
        .filter((d) => !mayImport(placeOf(f), placeOf(d)))
        .map((d) => `${f} (${placeOf(f)}) imports ${d} (${placeOf(d)})`),
    )
    t.same(upward, [], 'no import against the direction')
  },
)

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const on = new Set<string>()
  const found: string[][] = []
  const visit = (v: string): void => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    on.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!idx.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = []
      let w: string
      do {
        w = stack.pop()!
        on.delete(w)
        scc.push(w)
      } while (w !== v)
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.sort())
    }
  }
  for (const v of graph.keys()) if (!idx.has(v)) visit(v)
  return found
}

t.test('the cycle finder finds a cycle, so the next check can fail', async (t) => {
  t.same(
    cycles(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', ['a']],
        ['d', ['a']],
      ]),
    ),
    [['a', 'b', 'c']],
  )
  t.same(
    cycles(
      new Map([
        ['a', ['b']],
        ['b', []],
      ]),
    ),
    [],
  )
})

t.test('the direction rule refuses upward imports', async (t) => {
  t.notOk(mayImport('token', 'proxy'))
  t.notOk(mayImport('shared', 'config'))
  t.notOk(mayImport('proxy', 'simulator'))
  t.notOk(mayImport('simulator/idcs', 'simulator/oac'))
  t.notOk(mayImport('simulator/common', 'simulator/idcs'))
  t.ok(mayImport('cli', 'shared'))
  t.ok(mayImport('cli', 'simulator'))
})

t.test('no import cycles', async (t) => {
  t.same(cycles(GRAPH), [])
})

t.test(`no source file over ${MAX_FILE_LINES} lines`, async (t) => {
  const long = FILES.filter((f) => !GENERATED.has(f))
    .map((f) => [f, readFileSync(join(SRC, f), 'utf8').split('\n').length] as const)
    .filter(([, n]) => n > MAX_FILE_LINES)
    .map(([f, n]) => `${f}: ${n} lines`)
  t.same(long, [])
})

/** Functions (declarations, methods, arrows, expressions) longer than the limit and not marked with a reason. */
function longFunctions(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8')
  const lines = text.split('\n')
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const found: string[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line
      const length = end - start + 1
      const marked = [lines[start - 1], lines[start - 2], lines[start]].some((l) => l?.includes(LONG_FUNCTION_MARK))
      if (length > MAX_FUNCTION_LINES && !marked) found.push(`${file}:${start + 1}: ${length} lines`)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

t.test(`no function over ${MAX_FUNCTION_LINES} lines without a reason next to it`, async (t) => {
  t.same(
    FILES.filter((f) => !GENERATED.has(f)).flatMap(longFunctions),
    [],
    `mark a function that must stay long with a "// ${LONG_FUNCTION_MARK} why" comment on the line above it`,
  )
})
