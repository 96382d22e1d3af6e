import { execFileSync } from 'node:child_process'
import test from 'ava'
import { SERVER_V8_FLAGS, serverNodeFlags, serverV8Flags } from '../../../cluster-ctl/v8-flags.js'

test('servers get the V8 flags, then DYNAMO_NODE_FLAGS', (t) => {
  t.deepEqual(serverNodeFlags({}), [...SERVER_V8_FLAGS])
  t.deepEqual(serverNodeFlags({ DYNAMO_NODE_FLAGS: ' --cpu-prof  --cpu-prof-dir=/tmp/p ' }), [...SERVER_V8_FLAGS, '--cpu-prof', '--cpu-prof-dir=/tmp/p'])
  t.deepEqual(serverV8Flags({ DYNAMO_NODE_FLAGS: '--cpu-prof' }), [...SERVER_V8_FLAGS], 'the baseline gets the tuning, not the profiling flags')
})

test('a flag of the same name in DYNAMO_NODE_FLAGS replaces ours, and DYNAMO_V8_TUNING=off leaves V8 its defaults', (t) => {
  t.deepEqual(serverNodeFlags({ DYNAMO_NODE_FLAGS: '--initial-old-space-size=16' }), ['--initial-old-space-size=16'])
  t.deepEqual(serverNodeFlags({ DYNAMO_V8_TUNING: 'off', DYNAMO_NODE_FLAGS: '--trace-gc' }), ['--trace-gc'])
  t.deepEqual(serverV8Flags({ DYNAMO_V8_TUNING: 'off' }), [])
})

test('this node starts with the flags (an unknown one would make it exit with "bad option")', (t) => {
  const out = execFileSync(process.execPath, [...SERVER_V8_FLAGS, '-e', 'console.log("started")'], { encoding: 'utf8' })
  t.is(out.trim(), 'started')
  t.throws(() => execFileSync(process.execPath, ['--initial-old-space-sise=64', '-e', '0'], { stdio: 'pipe' }), undefined, 'a misspelt flag is refused')
})
