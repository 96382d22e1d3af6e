import test from 'ava'
import { Prng } from '../../../../devtools/prng.js'
import { type Current, evaluatePreconditions, hasPreconditions, ifRangeHolds, matches, parseTags, type Preconditions, preconditionsOf } from '../../../../proxy/objects/preconditions.js'

const T0 = Date.UTC(2026, 11, 7, 12, 0, 0, 500)
const at = (ms: number) => new Date(ms).toUTCString()
const one: Current = { etags: ['aaa'], lastModified: T0 }

test('no conditions: ok', (t) => {
  t.is(evaluatePreconditions({}, one, 'read'), 'ok')
  t.is(evaluatePreconditions({}, null, 'write'), 'ok')
  t.false(hasPreconditions({}))
  t.true(hasPreconditions({ ifNoneMatch: '*' }))
})

test('If-Match: strong comparison, any sibling, * needs a live version', (t) => {
  t.is(evaluatePreconditions({ ifMatch: '"aaa"' }, one, 'read'), 'ok')
  t.is(evaluatePreconditions({ ifMatch: 'aaa' }, one, 'read'), 'ok')
  t.is(evaluatePreconditions({ ifMatch: '"bbb", "aaa"' }, one, 'write'), 'ok')
  t.is(evaluatePreconditions({ ifMatch: 'W/"aaa"' }, one, 'read'), 'failed')
  t.is(evaluatePreconditions({ ifMatch: '"bbb"' }, one, 'read'), 'failed')
  t.is(evaluatePreconditions({ ifMatch: '"bbb"' }, { etags: ['aaa', 'bbb'], lastModified: T0 }, 'write'), 'ok')
  t.is(evaluatePreconditions({ ifMatch: '*' }, one, 'write'), 'ok')
  t.is(evaluatePreconditions({ ifMatch: '*' }, null, 'write'), 'failed')
  t.is(evaluatePreconditions({ ifMatch: '"aaa"' }, null, 'write'), 'failed')
})

test('If-None-Match: weak comparison; 304 on reads, 412 on writes', (t) => {
  t.is(evaluatePreconditions({ ifNoneMatch: '"aaa"' }, one, 'read'), 'not-modified')
  t.is(evaluatePreconditions({ ifNoneMatch: 'W/"aaa"' }, one, 'read'), 'not-modified')
  t.is(evaluatePreconditions({ ifNoneMatch: '"bbb"' }, one, 'read'), 'ok')
  t.is(evaluatePreconditions({ ifNoneMatch: '*' }, one, 'write'), 'failed')
  t.is(evaluatePreconditions({ ifNoneMatch: '*' }, null, 'write'), 'ok')
  t.is(evaluatePreconditions({ ifNoneMatch: '"aaa"' }, one, 'write'), 'failed')
})

test('dates: whole seconds, invalid ones ignored', (t) => {
  t.is(evaluatePreconditions({ ifModifiedSince: at(T0) }, one, 'read'), 'not-modified')
  t.is(evaluatePreconditions({ ifModifiedSince: at(T0 - 1000) }, one, 'read'), 'ok')
  t.is(evaluatePreconditions({ ifModifiedSince: at(T0) }, one, 'write'), 'ok')
  t.is(evaluatePreconditions({ ifUnmodifiedSince: at(T0) }, one, 'read'), 'ok')
  t.is(evaluatePreconditions({ ifUnmodifiedSince: at(T0 - 1000) }, one, 'read'), 'failed')
  t.is(evaluatePreconditions({ ifUnmodifiedSince: 'yesterday' }, one, 'read'), 'ok')
  t.is(evaluatePreconditions({ ifModifiedSince: 'not a date' }, one, 'read'), 'ok')
})

test('precedence (RFC 9110 13.2.2): If-Match hides If-Unmodified-Since, If-None-Match hides If-Modified-Since', (t) => {
  t.is(evaluatePreconditions({ ifMatch: '"aaa"', ifUnmodifiedSince: at(T0 - 10_000) }, one, 'read'), 'ok')
  t.is(evaluatePreconditions({ ifNoneMatch: '"bbb"', ifModifiedSince: at(T0 + 10_000) }, one, 'read'), 'ok')
  t.is(evaluatePreconditions({ ifMatch: '"bbb"', ifNoneMatch: '"bbb"' }, one, 'read'), 'failed')
  t.is(evaluatePreconditions({ ifUnmodifiedSince: at(T0 - 10_000), ifNoneMatch: '"aaa"' }, one, 'read'), 'failed')
})

test('parsing: lists, spaces, weak and unquoted tags', (t) => {
  t.deepEqual(parseTags(' "a" ,W/"b",c'), [
    { weak: false, value: 'a' },
    { weak: true, value: 'b' },
    { weak: false, value: 'c' },
  ])
  t.false(matches('', one, 'weak'))
  const p = preconditionsOf((n) => ({ 'if-match': '"x"', 'if-none-match': '' })[n] ?? '')
  t.deepEqual(p, { ifMatch: '"x"', ifNoneMatch: undefined, ifModifiedSince: undefined, ifUnmodifiedSince: undefined })
})

/** Random conditions against random holdings: the laws every answer keeps. */
test('property: writes never 304; more siblings never fail an If-Match that held; If-Match on a held tag never fails', (t) => {
  const rng = new Prng(412)
  const tags = ['a', 'b', 'c', 'd']
  const tagList = () => Array.from({ length: rng.range(1, 3) }, () => (rng.chance(0.2) ? 'W/' : '') + `"${rng.pick(tags)}"`).join(', ')
  const date = () => (rng.chance(0.1) ? 'garbage' : at(T0 + rng.range(-3, 3) * 1000))
  for (let i = 0; i < 3000; i++) {
    const p: Preconditions = {
      ifMatch: rng.chance(0.4) ? (rng.chance(0.2) ? '*' : tagList()) : undefined,
      ifNoneMatch: rng.chance(0.4) ? (rng.chance(0.2) ? '*' : tagList()) : undefined,
      ifModifiedSince: rng.chance(0.4) ? date() : undefined,
      ifUnmodifiedSince: rng.chance(0.4) ? date() : undefined,
    }
    const current: Current | null = rng.chance(0.15) ? null : { etags: [rng.pick(tags)], lastModified: T0 }
    const msg = `${JSON.stringify(p)} vs ${JSON.stringify(current)} (seed 412, case ${i})`
    t.not(evaluatePreconditions(p, current, 'write'), 'not-modified', msg)
    if (!current) continue
    const more: Current = { ...current, etags: [...current.etags, rng.pick(tags)] }
    const matchOnly: Preconditions = { ifMatch: p.ifMatch }
    if (evaluatePreconditions(matchOnly, current, 'read') === 'ok') t.is(evaluatePreconditions(matchOnly, more, 'read'), 'ok', msg)
    t.is(evaluatePreconditions({ ...p, ifMatch: `"${current.etags[0]}"`, ifNoneMatch: undefined, ifModifiedSince: undefined }, current, 'read'), 'ok', msg)
  }
})

test('If-Range: a strong tag or the exact date keeps the Range, anything else serves the whole object', (t) => {
  const v = { etag: 'aaa', lastModified: T0 }
  t.true(ifRangeHolds(undefined, v))
  t.true(ifRangeHolds('"aaa"', v))
  t.false(ifRangeHolds('W/"aaa"', v))
  t.false(ifRangeHolds('"bbb"', v))
  t.true(ifRangeHolds(at(T0), v))
  t.false(ifRangeHolds(at(T0 - 1000), v))
  t.false(ifRangeHolds('soon', v))
})
