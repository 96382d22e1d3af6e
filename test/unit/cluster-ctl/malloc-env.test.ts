import test from 'ava'
import { hasServerEnv, MALLOC_TUNABLES, serverEnv } from '../../../cluster-ctl/malloc-env.js'

test('servers get the malloc settings when the user set none', (t) => {
  const env = serverEnv({ PATH: '/bin' })
  t.is(env.GLIBC_TUNABLES, MALLOC_TUNABLES)
  t.is(env.PATH, '/bin')
  t.true(hasServerEnv(env))
  t.false(hasServerEnv({ PATH: '/bin' }))
})

test('other glibc tunables and malloc variables are kept, ours appended', (t) => {
  t.is(serverEnv({ MALLOC_ARENA_MAX: '2' }).GLIBC_TUNABLES, MALLOC_TUNABLES)
  t.is(serverEnv({ GLIBC_TUNABLES: 'glibc.pthread.rseq=0' }).GLIBC_TUNABLES, `glibc.pthread.rseq=0:${MALLOC_TUNABLES}`)
})

test("the user's own malloc settings win, and DYNAMO_MALLOC_TUNING=off leaves the defaults", (t) => {
  for (const env of [{ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }, { MALLOC_TRIM_THRESHOLD_: '0' }, { MALLOC_TOP_PAD_: '1048576' }, { DYNAMO_MALLOC_TUNING: 'off' }]) {
    t.is(serverEnv(env), env, JSON.stringify(env))
    t.true(hasServerEnv(env))
  }
})

test('the settings are the three glibc malloc tunables, each a whole number of bytes', (t) => {
  const pairs = MALLOC_TUNABLES.split(':').map((p) => p.split('='))
  t.deepEqual(pairs.map(([k]) => k).sort(), ['glibc.malloc.mmap_threshold', 'glibc.malloc.top_pad', 'glibc.malloc.trim_threshold'])
  for (const [, v] of pairs) t.regex(v as string, /^[1-9][0-9]*$/)
})
