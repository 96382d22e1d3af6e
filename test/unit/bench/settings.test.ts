import test from 'ava'
import { CommanderError } from 'commander'
import { benchCommand, QUICK_OUT, ROOT, settingsOf } from '../../../bench/setup.js'
import { parseCommandLine } from '../../../devtools/command-line.js'

const parse = (argv: string[]) => settingsOf(parseCommandLine(benchCommand(), argv, { silent: true }))

test('bench/run.ts defaults: a full run, and --quick', (t) => {
  t.like(parse([]), {
    quick: false,
    durationS: 10,
    warmupS: 8,
    concurrency: [16, 64],
    size: 4096,
    largeSize: 2 ** 20,
    largeConcurrency: 4,
    hugeSize: 2 ** 30,
    listKeys: 10_000,
    out: `${ROOT}/bench/results`,
  })
  t.like(parse(['--quick']), { quick: true, durationS: 2, warmupS: 1, hugeSize: 64 * 2 ** 20, listKeys: 1000, out: QUICK_OUT })
  t.is(parse([]).target, undefined)
})

test('bench/run.ts flags: sizes with suffixes, lists, a target URL cut to its origin', (t) => {
  t.like(parse(['--size', '8k', '--huge-size', '2g', '--concurrency', '1,4', '--warmup', '0', '--target', 'http://127.0.0.1:8080/x']), {
    size: 8192,
    hugeSize: 2 * 2 ** 30,
    concurrency: [1, 4],
    warmupS: 0,
    target: 'http://127.0.0.1:8080',
  })
})

test('bench/run.ts: a bad value or an unknown flag is a usage error', (t) => {
  for (const argv of [['--size', '4q'], ['--concurrency', '16,'], ['--duration', '0'], ['--target', 'nope'], ['--fast']]) {
    const err = t.throws(() => parse(argv), { instanceOf: CommanderError }, argv.join(' '))
    t.not(err?.exitCode, 0)
  }
})
