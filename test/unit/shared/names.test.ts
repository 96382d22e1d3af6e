import test from 'ava'
import { InvalidBucketNameError, InvalidKeyError } from '../../../shared/errors.js'
import { assertBucketName, assertKey, MAX_KEY_BYTES, NODE_ID_RE } from '../../../shared/names.js'
import { forEachSeed } from '../../../devtools/prng.js'

test('assertBucketName accepts valid S3 names', (t) => {
  for (const name of ['abc', 'my-bucket.1', 'a'.repeat(63), '123', 'a-b', 'a.b.c', '0ab', 'ab9', '1.2.3', '999.999.999.999a']) {
    t.notThrows(() => assertBucketName(name), name)
  }
})

test('assertBucketName refuses invalid names', (t) => {
  const bad = [
    '',
    'a',
    'ab',
    'a'.repeat(64),
    'Bad_Name',
    'ABC',
    'abC',
    'Abc',
    '-abc',
    'abc-',
    '.abc',
    'abc.',
    '192.168.1.1',
    '10.0.0.1',
    'a..b',
    'a.-b',
    'a-.b',
    'a_b',
    'a b',
    'abc/def',
    'ab\u0000c',
    'bücket',
    '.buckets',
  ]
  for (const name of bad) t.throws(() => assertBucketName(name), { instanceOf: InvalidBucketNameError }, JSON.stringify(name))
})

test('property: bucket names match the S3 rules', (t) => {
  const chars = 'abcxyz019.-_A'
  forEachSeed(500, 41, (rng, seed) => {
    const len = rng.range(1, 66)
    const name = Array.from({ length: len }, () => chars[rng.int(chars.length)]).join('')
    const valid = len >= 3 && len <= 63 && /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name) && !name.includes('..') && !name.includes('.-') && !name.includes('-.') && !/^\d{1,3}(\.\d{1,3}){3}$/.test(name)
    if (valid) t.notThrows(() => assertBucketName(name), `seed ${seed}: ${name}`)
    else t.throws(() => assertBucketName(name), { instanceOf: InvalidBucketNameError }, `seed ${seed}: ${name}`)
  })
})

test('assertKey accepts any 1-1024 bytes of well-formed UTF-8 without control characters', (t) => {
  t.is(MAX_KEY_BYTES, 1024)
  const good = [
    'a',
    '../../etc/passwd',
    '/leading/slash',
    'trailing/',
    'a//b',
    '.',
    '..',
    'ключ/ファイル/😀',
    'spaces and ?#%&=',
    'a'.repeat(1024),
    '€'.repeat(341) + 'a', // 341 * 3 + 1 = 1024 bytes
    '😀'.repeat(256), // 4 bytes each
    '\u0080\u009f', // C1 characters are not refused (only C0 and DEL)
  ]
  for (const key of good) t.notThrows(() => assertKey(key), JSON.stringify(key.slice(0, 40)))
  t.is(Buffer.byteLength('€'.repeat(341) + 'a'), 1024)
})

test('assertKey refuses empty, too long, control characters and lone surrogates', (t) => {
  const bad = [
    '',
    'a'.repeat(1025),
    'é'.repeat(512) + 'a', // 1025 bytes in 513 characters
    '😀'.repeat(256) + 'a',
    'a\u0000b',
    '\u0000',
    'line\nbreak',
    'cr\r',
    'tab\there',
    '\u001f',
    'del\u007f',
    '\ud800',
    'a\udfffb',
    '😀'.slice(0, 1),
  ]
  for (const key of bad) t.throws(() => assertKey(key), { instanceOf: InvalidKeyError }, JSON.stringify(key.slice(0, 40)))
})

test('property: assertKey refuses exactly the keys that break the rules', (t) => {
  const pool = ['a', 'Z', '/', '.', ' ', 'é', '€', '😀', '\u0000', '\n', '\u007f', '\ud800', '\udc00']
  forEachSeed(500, 42, (rng, seed) => {
    const parts = Array.from({ length: rng.range(0, rng.chance(0.1) ? 600 : 20) }, () => (rng.chance(0.9) ? (pool.slice(0, 8)[rng.int(8)] as string) : rng.pick(pool)))
    const key = parts.join('')
    const bytes = Buffer.byteLength(key)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the rule under test
    const valid = bytes >= 1 && bytes <= 1024 && !/[\u0000-\u001f\u007f]/.test(key) && key.isWellFormed()
    if (valid) t.notThrows(() => assertKey(key), `seed ${seed}`)
    else t.throws(() => assertKey(key), { instanceOf: InvalidKeyError }, `seed ${seed}`)
  })
})

test('node ids are short and plain', (t) => {
  for (const id of ['node-1', 'n', 'A_b-9', 'x'.repeat(63)]) t.true(NODE_ID_RE.test(id), id)
  for (const id of ['', '-node', '_n', 'node.1', 'node/1', 'x'.repeat(64), 'nöde']) t.false(NODE_ID_RE.test(id), id)
})
