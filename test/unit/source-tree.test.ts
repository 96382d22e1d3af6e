/**
 * Cheap checks over the source tree, so its shape holds as it grows: no import cycle, no file over
 * MAX_LINES, test code imported only by tests, and the folders depending on each other in one
 * direction only (STYLE.md §3). Reads the files' import lines; starts nothing.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import test from 'ava'

const ROOT = resolve(import.meta.dirname, '../..')

/** Past this a file holds more than one job: split it by what its parts do (STYLE.md §1, §13). */
const MAX_LINES = 400

/**
 * The folders outside test/, and the other folders each may import. The servers share only shared/;
 * the tools around them (cluster-ctl, devtools, bench, faults) may import product code, never test/.
 */
const ALLOWED: Record<string, readonly string[]> = {
  shared: [],
  proxy: ['shared'],
  'storage-node': ['shared'],
  'cluster-ctl': ['shared'],
  devtools: ['shared', 'proxy', 'storage-node', 'cluster-ctl'],
  bench: ['shared', 'proxy', 'storage-node', 'cluster-ctl', 'devtools'],
  faults: ['shared', 'proxy', 'storage-node', 'cluster-ctl', 'devtools'],
  'dynamoctl-cli': ['shared', 'devtools'],
}
const SOURCE_FOLDERS = Object.keys(ALLOWED)

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)))
    .filter((f) => !f.split('/').includes('node_modules'))
    .sort()
}

// `import ... from './x.js'`, `export ... from`, `import './x.js'`, `import('./x.js')`: relative specifiers only.
const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g

/** The files `file` imports (repo-relative, .js specifiers taken to their .ts source). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8')
  return [...text.matchAll(IMPORT_RE)].map((m) => relative(ROOT, resolve(ROOT, dirname(file), (m[1] ?? m[2]) as string)).replace(/\.js$/, '.ts'))
}

const topFolder = (file: string): string => file.split('/')[0] as string

const sources = SOURCE_FOLDERS.flatMap(tsFiles)
const graph = new Map(sources.map((f) => [f, importsOf(f)]))

/** Every cycle's files (strongly connected components of more than one file, or a file importing itself). */
function cycles(g: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (v: string): void => {
    index.set(v, next)
    low.set(v, next)
    next++
    stack.push(v)
    onStack.add(v)
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number))
    }
    if (low.get(v) !== index.get(v)) return
    const component: string[] = []
    let w: string
    do {
      w = stack.pop() as string
      onStack.delete(w)
      component.push(w)
    } while (w !== v)
    if (component.length > 1 || (g.get(v) ?? []).includes(v)) found.push(component.sort())
  }
  for (const v of g.keys()) if (!index.has(v)) visit(v)
  return found
}

test('the walk finds the source files and their imports', (t) => {
  t.true(sources.length > 100, `found only ${sources.length} files`)
  t.true(sources.includes('storage-node/main.ts'))
  t.true(graph.get('proxy/coordinator/read-repair.ts')?.includes('proxy/coordinator/read-outcome.ts'), 'import lines are read')
})

test('the cycle finder finds a cycle (so an empty answer means something)', (t) => {
  t.deepEqual(
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
  t.deepEqual(cycles(new Map([['a', ['a']]])), [['a']])
  t.deepEqual(
    cycles(
      new Map([
        ['a', ['b']],
        ['b', []],
      ]),
    ),
    [],
  )
})

test('no import cycle outside test/ (type-only imports count: move the shared piece to where it belongs)', (t) => {
  t.deepEqual(cycles(graph), [])
})

test(`no source file outside test/ is over ${MAX_LINES} lines`, (t) => {
  const long = sources.map((f) => ({ f, lines: readFileSync(join(ROOT, f), 'utf8').split('\n').length - 1 })).filter((x) => x.lines > MAX_LINES)
  t.deepEqual(
    long.map((x) => `${x.f}: ${x.lines} lines`),
    [],
  )
})

test('nothing outside test/ imports from test/ (what faults/, bench/ and tests share lives in devtools/)', (t) => {
  const bad = [...graph].flatMap(([f, deps]) => deps.filter((d) => topFolder(d) === 'test').map((d) => `${f} imports ${d}`))
  t.deepEqual(bad, [])
})

test('folders depend on each other one way only: shared on nothing, the servers only on shared, tools on product code', (t) => {
  const bad = [...graph].flatMap(([f, deps]) => {
    const from = topFolder(f)
    return deps.filter((d) => topFolder(d) !== from && !(ALLOWED[from] ?? []).includes(topFolder(d))).map((d) => `${f} imports ${d}`)
  })
  t.deepEqual(bad, [])
})

test('every relative import names a file that exists', (t) => {
  const all = new Set([...sources, ...tsFiles('test')])
  const missing = [...graph].flatMap(([f, deps]) => deps.filter((d) => !all.has(d)).map((d) => `${f} imports ${d}`))
  t.deepEqual(missing, [])
})
