import { readFileSync } from 'node:fs'
import test from 'ava'
import { BENCH_BEGIN, BENCH_END, BENCHMARKS_DOC, withBenchTables } from '../../../bench/doc-tables.js'

const doc = `# x\n\n## Latest results\nintro\n\n${BENCH_BEGIN}\nold table\n| a |\n${BENCH_END}\n\nafter\n`

test('a run replaces only what is between the markers, and again idempotently', (t) => {
  const once = withBenchTables(doc, '| new |\n| --- |\n')
  t.is(once, `# x\n\n## Latest results\nintro\n\n${BENCH_BEGIN}\n| new |\n| --- |\n${BENCH_END}\n\nafter\n`)
  t.is(withBenchTables(once, '| new |\n| --- |\n'), once)
})

test('a document without exactly one well-ordered block is refused', (t) => {
  t.throws(() => withBenchTables('# no markers', 'x'))
  t.throws(() => withBenchTables(`${BENCH_END}\n${BENCH_BEGIN}`, 'x'))
  t.throws(() => withBenchTables(`${doc}\n${BENCH_BEGIN}\n${BENCH_END}`, 'x'))
})

test('the committed benchmarks page holds the one block a full run rewrites, and the README none', (t) => {
  const page = readFileSync(new URL(`../../../${BENCHMARKS_DOC}`, import.meta.url), 'utf8')
  t.notThrows(() => withBenchTables(page, '| new |'))
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
  t.false(readme.includes(BENCH_BEGIN) || readme.includes(BENCH_END), 'the README links to the tables instead of holding them')
})
