import test from 'ava'
import { parseNodeConfig } from '../../../storage-node/config.js'

const BASE = ['--id', 'node-1', '--port', '9001', '--data', '/tmp/node-1']
const ENV = { CLUSTER_SECRET: 'a-test-secret-of-32-characters!!' }

test('--direct-io and --durability take their choices, default to auto and fsync, and refuse anything else', (t) => {
  const plain = parseNodeConfig(BASE, ENV)
  t.is(plain.directIo, 'auto')
  t.is(plain.durability, 'fsync')
  const set = parseNodeConfig([...BASE, '--direct-io', 'off', '--durability', 'none'], ENV)
  t.is(set.directIo, 'off')
  t.is(set.durability, 'none')
  t.throws(() => parseNodeConfig([...BASE, '--direct-io', 'on'], ENV), { message: /auto or off/ })
  t.throws(() => parseNodeConfig([...BASE, '--durability', 'fdatasync'], ENV), { message: /fsync or none/ })
})

test('--cached-read-max-bytes defaults to 0 (every read of an object file past the cache) and takes a size', (t) => {
  t.is(parseNodeConfig(BASE, ENV).cachedReadMaxBytes, 0)
  t.is(parseNodeConfig([...BASE, '--cached-read-max-bytes', '5242880'], ENV).cachedReadMaxBytes, 5 * 1024 * 1024)
  t.throws(() => parseNodeConfig([...BASE, '--cached-read-max-bytes', '-1'], ENV))
  t.throws(() => parseNodeConfig([...BASE, '--cached-read-max-bytes', 'lots'], ENV))
  t.throws(() => parseNodeConfig([...BASE, '--cached-read-max-bytes', ''], ENV), { message: /expected an integer/ }, 'an empty value is not 0')
})

test('--reserve-bytes is unset by default (the node then keeps max(256 MiB, 1 % of its filesystem)) and takes a size; --max-hints defaults to a million', (t) => {
  const plain = parseNodeConfig(BASE, ENV)
  t.is(plain.reserveBytes, undefined)
  t.is(plain.maxHints, 1_000_000)
  const set = parseNodeConfig([...BASE, '--reserve-bytes', '8388608', '--max-hints', '500'], ENV)
  t.is(set.reserveBytes, 8 * 1024 * 1024)
  t.is(set.maxHints, 500)
  t.throws(() => parseNodeConfig([...BASE, '--reserve-bytes', '-1'], ENV))
  t.throws(() => parseNodeConfig([...BASE, '--max-hints', 'many'], ENV))
})
