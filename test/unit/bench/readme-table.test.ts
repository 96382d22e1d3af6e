import test from 'ava'
import { BENCH_BEGIN, BENCH_END, withBenchTables } from '../../../bench/readme-table.js'

const readme = `# x\n\n## Measured figures\nintro\n\n${BENCH_BEGIN}\nold table\n| a |\n${BENCH_END}\n\nafter\n`

test('a run replaces only what is between the markers, and again idempotently', (t) => {
  const once = withBenchTables(readme, '| new |\n| --- |\n')
  t.is(once, `# x\n\n## Measured figures\nintro\n\n${BENCH_BEGIN}\n| new |\n| --- |\n${BENCH_END}\n\nafter\n`)
  t.is(withBenchTables(once, '| new |\n| --- |\n'), once)
})

test('a README without exactly one well-ordered block is refused', (t) => {
  t.throws(() => withBenchTables('# no markers', 'x'))
  t.throws(() => withBenchTables(`${BENCH_END}\n${BENCH_BEGIN}`, 'x'))
  t.throws(() => withBenchTables(`${readme}\n${BENCH_BEGIN}\n${BENCH_END}`, 'x'))
})
