import test from 'ava'
import { CommanderError } from 'commander'
import { parseGossipScaleArgs } from '../../../bench/gossip-scale.js'

test('without --seconds, the sample lasts the default 10 s whatever N is (it once read N as the seconds)', (t) => {
  t.deepEqual(parseGossipScaleArgs([]), { nodes: 100, seconds: 10 })
  t.deepEqual(parseGossipScaleArgs(['200']), { nodes: 200, seconds: 10 })
})

test('--seconds sets the sample and leaves N at its default (it once took the seconds for N)', (t) => {
  t.deepEqual(parseGossipScaleArgs(['--seconds', '5']), { nodes: 100, seconds: 5 })
  t.deepEqual(parseGossipScaleArgs(['50', '--seconds', '3']), { nodes: 50, seconds: 3 })
  t.deepEqual(parseGossipScaleArgs(['--seconds', '3', '50']), { nodes: 50, seconds: 3 })
})

test('a bad value, an unknown flag or a second N is a usage error, not a silent default', (t) => {
  for (const argv of [['--seconds', 'x'], ['--seconds', '0'], ['--seconds'], ['--secs', '5'], ['abc'], ['10', '20']]) {
    const err = t.throws(() => parseGossipScaleArgs(argv), { instanceOf: CommanderError }, argv.join(' '))
    t.not(err?.exitCode, 0, argv.join(' '))
  }
})

test('--help is not an error', (t) => {
  const err = t.throws(() => parseGossipScaleArgs(['--help']), { instanceOf: CommanderError })
  t.is(err?.exitCode, 0)
})
