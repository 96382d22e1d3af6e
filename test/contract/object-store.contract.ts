/**
 * The contract of an ObjectStore (storage-node/store/object-store.ts): the write rules every
 * implementation keeps, run against each (the LMDB store and the in-memory one of
 * test/helpers/memory-store.ts, from test/unit/storage-node/object-store-contract.*.test.ts), so the
 * rules are tested without LMDB and a new engine has a suite to pass. What only one implementation
 * has (files, LMDB tables, crash recovery) is tested beside it, not here.
 */
import test, { type ExecutionContext } from 'ava'
import { HintStoreFullError, NoSuchVersionError, TooManySiblingsError, WriteExpiredError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { clockOf, contextOf, type Dot, EMPTY_CONTEXT, versionId } from '../../shared/vclock/versions.js'
import type { Version } from '../../shared/wire/internal-api.js'
import { EMPTY_ETAG, type ReceivedBody } from '../../storage-node/store/blobs/blob-files.js'
import type { ObjectStore } from '../../storage-node/store/object-store.js'
import { segmentOf } from '../../storage-node/store/segment-index.js'
import { ctx, foreignVersion, hint, ids, NOW, readAll } from '../helpers/store-fixtures.js'

export { NOW }

export interface ContractOptions {
  maxSiblings?: number
  maxClockEntries?: number
  maxHintBytes?: number
  maxHints?: number
  now?: () => number
  log?: Logger
}

export interface OpenedStore {
  store: ObjectStore
  /** A received body of these bytes, as the implementation takes them. */
  body(bytes: Buffer | string): Promise<ReceivedBody>
  /** Close the store and open it again over the same data (a restart). */
  reopen(): Promise<OpenedStore>
}

export interface StoreUnderTest {
  /** A fresh store (node id `node-1`), closed after the test. */
  open(t: ExecutionContext, options: ContractOptions): Promise<OpenedStore>
}

/** The actor of the n-th key incarnation of this store's node (see planCoordinatedWrite). */
const inc = (store: ObjectStore, n: number) => `${store.actor}~${n}`

export function objectStoreContract(impl: StoreUnderTest): void {
  const open = (t: ExecutionContext, options: ContractOptions = {}) => impl.open(t, { now: () => NOW, ...options })

  test('coordinate without context replaces what the node holds', async (t) => {
    const { store, body } = await open(t)
    const first = await store.coordinate('b', 'k', {}, await body('one'))
    t.true(first.stored)
    t.deepEqual(first.version.dot, { actor: inc(store, 1), counter: 1 }, 'a new key: the first incarnation of this node')
    t.like(first.version, { tombstone: false, size: 3, contentType: 'application/octet-stream', lastModified: NOW, node: 'node-1' })
    t.deepEqual(first.version.context, EMPTY_CONTEXT)
    t.deepEqual(first.clock, { [inc(store, 1)]: 1 })
    const second = await store.coordinate('b', 'k', { contentType: 'text/plain' }, await body('two'))
    t.deepEqual(second.version.dot, { actor: inc(store, 1), counter: 2 })
    t.deepEqual(second.version.context, ctx({ [inc(store, 1)]: 1 }))
    t.deepEqual(ids(store.versions('b', 'k')), [versionId(second.version.dot)])
    t.is((await readAll(store.openData('b', 'k', versionId(second.version.dot)))).toString(), 'two')
    await t.throwsAsync(() => store.openData('b', 'k', versionId(first.version.dot)), { instanceOf: NoSuchVersionError })
    t.is(store.versions('b', 'k')[0]?.contentType, 'text/plain')
    t.deepEqual(store.versions('b', 'other'), [])
  })

  test('a coordinate whose expiresAt has passed (by the store clock) stores nothing; one within it stores', async (t) => {
    const { store, body } = await open(t)
    await t.throwsAsync(store.coordinate('b', 'late', { expiresAt: NOW - 1 }, await body('late')), { instanceOf: WriteExpiredError })
    t.deepEqual(store.versions('b', 'late'), [])
    const inTime = await store.coordinate('b', 'late', { expiresAt: NOW }, await body('in time'))
    t.true(inTime.stored)
    t.deepEqual(ids(store.versions('b', 'late')), [versionId(inTime.version.dot)])
  })

  test('two coordinates with the same explicit stale context keep both versions', async (t) => {
    const { store, body } = await open(t)
    const first = await store.coordinate('b', 'k', {}, await body('v1'))
    const context = contextOf(store.versions('b', 'k')) // what a reader got
    t.deepEqual(context, ctx({ [first.version.dot.actor]: 1 }))
    const x = await store.coordinate('b', 'k', { context }, await body('x'))
    const y = await store.coordinate('b', 'k', { context }, await body('y'))
    t.not(versionId(x.version.dot), versionId(y.version.dot))
    t.deepEqual(ids(store.versions('b', 'k')), ids([x.version, y.version]))
    t.deepEqual(y.clock, { [inc(store, 1)]: 3 })
    t.deepEqual(contextOf(store.versions('b', 'k')), ctx({ [inc(store, 1)]: 3 }), 'a reader of both has seen both')
    t.is((await readAll(store.openData('b', 'k', versionId(x.version.dot)))).toString(), 'x')
    t.is((await readAll(store.openData('b', 'k', versionId(y.version.dot)))).toString(), 'y')
    // A write over their context resolves them.
    const z = await store.coordinate('b', 'k', { context: contextOf(store.versions('b', 'k')) }, await body('z'))
    t.deepEqual(ids(store.versions('b', 'k')), [versionId(z.version.dot)])
  })

  test('tombstone: coordinate with tombstone:true and no body', async (t) => {
    const { store, body } = await open(t)
    await store.coordinate('b', 'k', {}, await body('data'))
    const del = await store.coordinate('b', 'k', { tombstone: true }, null)
    t.true(del.stored)
    t.like(del.version, { tombstone: true, size: 0, etag: EMPTY_ETAG })
    const held = store.versions('b', 'k')
    t.is(held.length, 1)
    t.true(held[0]?.tombstone)
    await t.throwsAsync(() => store.openData('b', 'k', versionId(del.version.dot)), { instanceOf: NoSuchVersionError })
    // The key is still listed (tombstones carry clocks) until a later write.
    t.deepEqual(
      store.list('b', { prefix: '', limit: 10 }).entries.map((e) => e.key),
      ['k'],
    )
  })

  test('an empty (non-tombstone) body reads back empty', async (t) => {
    const { store, body } = await open(t)
    const w = await store.coordinate('b', 'k', {}, await body(''))
    t.like(w.version, { size: 0, tombstone: false, etag: EMPTY_ETAG })
    t.is((await readAll(store.openData('b', 'k', versionId(w.version.dot)))).length, 0)
    t.deepEqual((await store.versionsWithData('b', 'k', { kind: 'own' }, 100)).data, Buffer.alloc(0))
  })

  test('replicate stores a new version next to concurrent ones and is idempotent', async (t) => {
    const { store, body } = await open(t)
    const local = await store.coordinate('b', 'k', {}, await body('local'))
    const remoteBody = await body('remote')
    const remote = foreignVersion('node-2.aaaa0000', 1, ctx(), remoteBody)
    const r1 = await store.replicate('b', 'k', remote, remoteBody)
    t.true(r1.stored)
    t.deepEqual(r1.clock, { [local.version.dot.actor]: 1, 'node-2.aaaa0000': 1 })
    t.deepEqual(ids(store.versions('b', 'k')), ids([local.version, remote]))
    const r2 = await store.replicate('b', 'k', remote, await body('remote'))
    t.false(r2.stored, 'already held')
    t.deepEqual(r2.clock, r1.clock)
    t.deepEqual(ids(store.versions('b', 'k')), ids([local.version, remote]))
    t.is((await readAll(store.openData('b', 'k', versionId(remote.dot)))).toString(), 'remote')
  })

  test('replicate of a superseded version is not stored', async (t) => {
    const { store, body } = await open(t)
    const oldBody = await body('old')
    const old = foreignVersion('node-2.aaaa0000', 1, ctx(), oldBody)
    const newerBody = await body('new')
    const newer = foreignVersion('node-3.bbbb0000', 1, ctx({ 'node-2.aaaa0000': 1 }), newerBody)
    t.true((await store.replicate('b', 'k', newer, newerBody)).stored)
    const late = await store.replicate('b', 'k', old, oldBody)
    t.false(late.stored)
    t.deepEqual(late.clock, clockOf(newer))
    t.deepEqual(ids(store.versions('b', 'k')), [versionId(newer.dot)])
    await t.throwsAsync(() => store.openData('b', 'k', versionId(old.dot)), { instanceOf: NoSuchVersionError })
  })

  test('replicate of a version that supersedes local ones drops them', async (t) => {
    const { store, body } = await open(t)
    const a = await store.coordinate('b', 'k', {}, await body('a'))
    const b = foreignVersion('node-2.aaaa0000', 1, ctx(), await body('b'))
    await store.replicate('b', 'k', b, await body('b'))
    const resolvedBody = await body('resolved')
    const resolved = foreignVersion('node-2.aaaa0000', 2, ctx({ [a.version.dot.actor]: 1, 'node-2.aaaa0000': 1 }), resolvedBody)
    const r = await store.replicate('b', 'k', resolved, resolvedBody)
    t.true(r.stored)
    t.deepEqual(ids(store.versions('b', 'k')), [versionId(resolved.dot)])
    await t.throwsAsync(() => store.openData('b', 'k', versionId(a.version.dot)), { instanceOf: NoSuchVersionError })
  })

  test('a retried request read and overwritten: the new version retires it, its first attempt arriving later is not kept (replicated) or refused (coordinated); across a reopen too', async (t) => {
    const opened = await open(t)
    const { store, body } = opened
    const v1 = await store.coordinate('b', 'k', { contentType: 'text/plain' }, await body('v1'))
    const read1 = contextOf([v1.version])
    // Request W: its first attempt was stored on another node, unheard; the retry coordinates here.
    const retry = await store.coordinate('b', 'k', { context: read1, writeId: 'req-W0000001', retried: true }, await body('v2'))
    t.true(retry.version.retried)
    const over = await store.coordinate('b', 'k', { context: contextOf([retry.version]), writeId: 'req-X0000001' }, await body('v3'))
    t.deepEqual(over.version.retired, ['req-W0000001'])
    const firstBody = await body('v2')
    const first = { ...foreignVersion('node-2.aaaa0000~1', 2, read1, firstBody), writeId: 'req-W0000001' }
    const late = await store.replicate('b', 'k', first, firstBody)
    t.false(late.stored, 'the first attempt is superseded by the version that retired its request')
    t.deepEqual(ids(store.versions('b', 'k')), [versionId(over.version.dot)])
    // The same request coordinated here now (its first attempt, late): refused, and no dot is spent.
    await t.throwsAsync(async () => store.coordinate('b', 'k', { writeId: 'req-W0000001' }, await body('v2')), { instanceOf: WriteExpiredError })
    t.deepEqual(ids(store.versions('b', 'k')), [versionId(over.version.dot)])
    const next = await store.coordinate('b', 'k', { context: contextOf([over.version]), writeId: 'req-Y0000001' }, await body('v4'))
    t.is(next.version.dot.counter, over.version.dot.counter + 1, 'the next write takes the next dot')
    t.deepEqual(next.version.retired, ['req-W0000001'], 'and carries the retirement on')
    const reopened = await opened.reopen()
    t.deepEqual(
      reopened.store.versions('b', 'k').map((v) => v.retired),
      [['req-W0000001']],
      'retired is stored with the version',
    )
    await t.throwsAsync(async () => reopened.store.coordinate('b', 'k', { writeId: 'req-W0000001' }, await reopened.body('v2')), { instanceOf: WriteExpiredError })
    t.false((await reopened.store.replicate('b', 'k', first, await reopened.body('v2'))).stored)
  })

  test('list honours bucket, prefix, after, limit and truncated', async (t) => {
    const { store, body } = await open(t)
    const put = async (bucket: string, key: string) => store.coordinate(bucket, key, {}, await body(`${bucket}/${key}`))
    for (const key of ['a/2', 'a/1', 'b/1', 'a/3', 'a', 'ab']) await put('bkt', key)
    await put('bka', 'a/0')
    await put('bkz', 'a/9')
    await put('bkt-', 'a/5')
    const keys = (q: { prefix: string; after?: string; limit: number }) => {
      const r = store.list('bkt', q)
      return { keys: r.entries.map((e) => e.key), truncated: r.truncated }
    }
    t.deepEqual(keys({ prefix: '', limit: 100 }), { keys: ['a', 'a/1', 'a/2', 'a/3', 'ab', 'b/1'], truncated: false })
    t.deepEqual(keys({ prefix: 'a/', limit: 100 }), { keys: ['a/1', 'a/2', 'a/3'], truncated: false })
    t.deepEqual(keys({ prefix: 'a/', limit: 2 }), { keys: ['a/1', 'a/2'], truncated: true })
    t.deepEqual(keys({ prefix: 'a/', limit: 3 }), { keys: ['a/1', 'a/2', 'a/3'], truncated: false }, 'exact fit is not truncated')
    t.deepEqual(keys({ prefix: 'a/', after: 'a/2', limit: 2 }), { keys: ['a/3'], truncated: false })
    t.deepEqual(keys({ prefix: 'a/', after: 'a/1', limit: 1 }), { keys: ['a/2'], truncated: true })
    t.deepEqual(keys({ prefix: 'a/', after: 'a/3', limit: 5 }), { keys: [], truncated: false })
    t.deepEqual(keys({ prefix: 'a/', after: 'a', limit: 5 }), { keys: ['a/1', 'a/2', 'a/3'], truncated: false }, 'after below the prefix')
    t.deepEqual(keys({ prefix: '', after: 'a/15', limit: 5 }), { keys: ['a/2', 'a/3', 'ab', 'b/1'], truncated: false }, 'after need not exist')
    t.deepEqual(keys({ prefix: 'c', limit: 5 }), { keys: [], truncated: false })
    t.deepEqual(keys({ prefix: '', limit: 6 }), { keys: ['a', 'a/1', 'a/2', 'a/3', 'ab', 'b/1'], truncated: false })
    t.deepEqual(keys({ prefix: '', limit: 5 }).truncated, true)
    // Paging with after = last key of the previous page visits every key once.
    const seen: string[] = []
    let after: string | undefined
    for (;;) {
      const page = store.list('bkt', { prefix: '', after, limit: 2 })
      seen.push(...page.entries.map((e) => e.key))
      if (!page.truncated) break
      after = page.entries[page.entries.length - 1]?.key
    }
    t.deepEqual(seen, ['a', 'a/1', 'a/2', 'a/3', 'ab', 'b/1'])
    const entry = store.list('bkt', { prefix: 'a/1', limit: 1 }).entries[0]
    t.is(entry?.versions.length, 1)
    t.deepEqual(Object.keys(entry?.versions[0] ?? {}).sort(), Object.keys(store.versions('bkt', 'a/1')[0] ?? {}).sort(), 'listings show public versions only')
    t.deepEqual(store.list('nobucket', { prefix: '', limit: 10 }), { entries: [], truncated: false })
  })

  test('the actor survives a reopen, key incarnations keep increasing, and a new store gets a new epoch', async (t) => {
    const first = await open(t)
    t.regex(first.store.actor, /^node-1\.[0-9a-f]{8}$/)
    const written: Dot[] = []
    for (const key of ['x', 'y', 'x']) written.push((await first.store.coordinate('b', key, {}, await first.body(key))).version.dot)
    const actor = first.store.actor
    // x is new: incarnation 1; y is new: incarnation 2; x again continues incarnation 1.
    t.deepEqual(written, [
      { actor: `${actor}~1`, counter: 1 },
      { actor: `${actor}~2`, counter: 1 },
      { actor: `${actor}~1`, counter: 2 },
    ])
    const again = await first.reopen()
    t.is(again.store.actor, actor)
    // A new key: its held set says nothing, only the persisted count of incarnations does.
    const w = await again.store.coordinate('b', 'fresh', {}, await again.body('f'))
    t.deepEqual(w.version.dot, { actor: `${actor}~3`, counter: 1 })
    const x = await again.store.coordinate('b', 'x', {}, await again.body('x3'))
    t.deepEqual(x.version.dot, { actor: `${actor}~1`, counter: 3 }, 'a held key continues its incarnation')
    const y = again.store.versions('b', 'y')[0] as Version
    t.is((await readAll(again.store.openData('b', 'y', versionId(y.dot)))).toString(), 'y')
    const other = await open(t)
    t.not(other.store.actor, actor, 'a new store gets a new epoch')
    t.regex(other.store.actor, /^node-1\./)
  })

  test('many coordinated writes over every kind of context never reuse a dot', async (t) => {
    const { store, body } = await open(t)
    const seen = new Set<string>()
    const last = new Map<string, number>()
    for (let i = 0; i < 60; i++) {
      const key = `k${i % 5}`
      // Explicit empty (stale) context, no context, or the context of everything held.
      const context = i % 3 === 0 ? EMPTY_CONTEXT : i % 3 === 1 ? undefined : contextOf(store.versions('b', key))
      const w = await store.coordinate('b', key, { context }, await body(`${i}`))
      const id = versionId(w.version.dot)
      t.false(seen.has(id), `dot ${id} reused`)
      t.true(w.version.dot.actor.startsWith(`${store.actor}~`))
      t.true(w.version.dot.counter > (last.get(w.version.dot.actor) ?? 0), `${id} not above earlier dots of its actor`)
      last.set(w.version.dot.actor, w.version.dot.counter)
      seen.add(id)
    }
  })

  test('a key forgotten by reaping gets a new incarnation, so its old dots are never reissued', async (t) => {
    const { store, body } = await open(t)
    const live = await store.coordinate('b', 'k', {}, await body('one'))
    const del = await store.coordinate('b', 'k', { tombstone: true }, null)
    t.is(del.version.dot.actor, live.version.dot.actor)
    t.true(await store.reap('b', 'k', [del.version.dot]))
    t.deepEqual(store.versions('b', 'k'), [])
    // The node has no trace of the key: a write must not start over at (same actor, 1).
    const again = await store.coordinate('b', 'k', {}, await body('two'))
    t.not(again.version.dot.actor, live.version.dot.actor)
    t.deepEqual(again.version.dot, { actor: inc(store, 2), counter: 1 })
  })

  test('maxClockEntries bounds the context of a coordinated write', async (t) => {
    const { store, body } = await open(t, { maxClockEntries: 2 })
    const wide = ctx({ 'n1.a~1': 3, 'n2.b~1': 9, 'n3.c~1': 1 }, [{ actor: 'n4.d~1', counter: 7 }])
    const w = await store.coordinate('b', 'k', { context: wide }, await body('v'))
    t.deepEqual(w.version.context, ctx({ 'n2.b~1': 9 }, [{ actor: 'n4.d~1', counter: 7 }]), 'the two actors with the highest counters are kept')
    t.deepEqual(store.versions('b', 'k')[0]?.context, w.version.context, 'and stored as such')
  })

  test('a coordinated write past maxSiblings is refused and changes nothing; a tombstone adds no live sibling', async (t) => {
    const { store, body } = await open(t, { maxSiblings: 2 })
    await store.coordinate('b', 'k', { context: EMPTY_CONTEXT }, await body('one'))
    await store.coordinate('b', 'k', { context: EMPTY_CONTEXT }, await body('two'))
    const before = ids(store.versions('b', 'k'))
    await t.throwsAsync(store.coordinate('b', 'k', { context: EMPTY_CONTEXT }, await body('three')), { instanceOf: TooManySiblingsError })
    t.deepEqual(ids(store.versions('b', 'k')), before)
    t.true((await store.coordinate('b', 'k', { context: EMPTY_CONTEXT, tombstone: true }, null)).stored)
    t.is(store.versions('b', 'k').length, 3)
    const resolved = await store.coordinate('b', 'k', { context: contextOf(store.versions('b', 'k')) }, await body('resolved'))
    t.deepEqual(ids(store.versions('b', 'k')), [versionId(resolved.version.dot)])
  })

  test('replicate still accepts the (maxSiblings+1)-th live sibling that coordinate refuses, and logs it', async (t) => {
    const warnings: { obj: unknown; msg: string }[] = []
    const log = { warn: (obj: unknown, msg: string) => warnings.push({ obj, msg }), info: () => {}, error: () => {} } as unknown as Logger
    const { store, body } = await open(t, { maxSiblings: 2, log })
    await store.coordinate('b', 'k', { context: EMPTY_CONTEXT }, await body('one'))
    await store.coordinate('b', 'k', { context: EMPTY_CONTEXT }, await body('two'))
    await t.throwsAsync(store.coordinate('b', 'k', { context: EMPTY_CONTEXT }, await body('three')), { instanceOf: TooManySiblingsError })
    t.deepEqual(warnings, [])
    // The same third sibling made elsewhere was acknowledged there: a replica must keep it.
    const extraBody = await body('made elsewhere')
    const extra = foreignVersion('node-2.aaaa0000', 1, EMPTY_CONTEXT, extraBody)
    t.true((await store.replicate('b', 'k', extra, extraBody)).stored)
    t.is(store.versions('b', 'k').filter((v) => !v.tombstone).length, 3)
    t.is((await readAll(store.openData('b', 'k', versionId(extra.dot)))).toString(), 'made elsewhere')
    t.is(warnings.length, 1)
    t.like(warnings[0]?.obj, { bucket: 'b', key: 'k', siblings: 3 })
    // Coordinated writes stay refused until the siblings are resolved.
    await t.throwsAsync(store.coordinate('b', 'k', { context: EMPTY_CONTEXT }, await body('four')), { instanceOf: TooManySiblingsError })
    const resolved = await store.coordinate('b', 'k', { context: contextOf(store.versions('b', 'k')) }, await body('resolved'))
    t.deepEqual(ids(store.versions('b', 'k')), [versionId(resolved.version.dot)])
  })

  test('hinted versions are invisible to own-space versions() and list(), and readable in their own space', async (t) => {
    const { store, body } = await open(t)
    const H = hint('node-9')
    const hb = await body('hinted')
    const v = foreignVersion('node-2.aaaa0000', 1, ctx(), hb)
    const r = await store.replicate('b', 'k', v, hb, H)
    t.true(r.stored)
    t.deepEqual(r.clock, clockOf(v))
    t.deepEqual(store.versions('b', 'k'), [])
    t.deepEqual(ids(store.versions('b', 'k', H)), [versionId(v.dot)])
    t.deepEqual(store.versions('b', 'k', hint('node-8')), [], 'hints are kept per target')
    t.deepEqual(store.list('b', { prefix: '', limit: 10 }), { entries: [], truncated: false })
    await t.throwsAsync(() => store.openData('b', 'k', versionId(v.dot)), { instanceOf: NoSuchVersionError })
    t.is((await readAll(store.openData('b', 'k', versionId(v.dot), H))).toString(), 'hinted')
    // A write coordinated by a stand-in stays in the hint space too.
    const c = await store.coordinate('b', 'k2', {}, await body('stand-in write'), H)
    t.true(c.stored)
    t.deepEqual(store.versions('b', 'k2'), [])
    t.deepEqual(ids(store.versions('b', 'k2', H)), [versionId(c.version.dot)])
    t.deepEqual(store.list('b', { prefix: '', limit: 10 }).entries, [])
    // The same version held as own data and as a hint has its own bytes in each space.
    t.true((await store.replicate('b', 'k', v, await body('hinted'))).stored, 'own space did not have it yet')
    t.is(await store.drop(H, 'b', 'k', [v.dot]), 1)
    t.deepEqual(ids(store.versions('b', 'k')), [versionId(v.dot)], 'dropping the hint leaves own data')
    t.is((await readAll(store.openData('b', 'k', versionId(v.dot)))).toString(), 'hinted')
    await t.throwsAsync(() => store.openData('b', 'k', versionId(v.dot), H), { instanceOf: NoSuchVersionError })
  })

  test("hintTotals counts hinted versions and bytes per target; hintBatch lists one target's keys", async (t) => {
    const { store, body } = await open(t)
    t.deepEqual(store.hintTotals(), {})
    const put = async (target: string, key: string, actor: string, counter: number, bytes: string | null, context = ctx()) => {
      const b = bytes === null ? null : await body(bytes)
      const v = foreignVersion(actor, counter, context, b)
      return { v, r: await store.replicate('bkt', key, v, b, hint(target)) }
    }
    await put('node-1', 'a', 'node-2.aaaa0000', 1, 'aaaaa')
    await put('node-1', 'a', 'node-3.bbbb0000', 1, 'xy') // a sibling of a1
    await put('node-1', 'b', 'node-2.aaaa0000', 2, 'bbb')
    await put('node-10', 'a', 'node-2.aaaa0000', 1, 'aaaaa') // a target whose id extends another's
    await put('node-0', 'a', 'node-2.aaaa0000', 3, null) // a hinted tombstone
    await store.coordinate('bkt', 'a', {}, await body('own data is not a hint'))
    const expected = { 'node-0': { versions: 1, bytes: 0 }, 'node-1': { versions: 3, bytes: 10 }, 'node-10': { versions: 1, bytes: 5 } }
    t.deepEqual(store.hintTotals(), expected)
    t.false((await put('node-1', 'a', 'node-2.aaaa0000', 1, 'aaaaa')).r.stored, 'redelivery of a held hint changes nothing')
    t.deepEqual(store.hintTotals(), expected)
    // A hinted version that supersedes both hinted siblings replaces them.
    await put('node-1', 'a', 'node-4.cccc0000', 1, 'z', ctx({ 'node-2.aaaa0000': 1, 'node-3.bbbb0000': 1 }))
    t.deepEqual(store.hintTotals()['node-1'], { versions: 2, bytes: 4 })
    t.deepEqual(ids(store.versions('bkt', 'a', hint('node-1'))), ['node-4.cccc0000.1'])
    t.deepEqual(
      store.hintBatch('node-1', 10).map((e) => [e.bucket, e.key, ids(e.versions)]),
      [
        ['bkt', 'a', ['node-4.cccc0000.1']],
        ['bkt', 'b', ['node-2.aaaa0000.2']],
      ],
    )
    t.deepEqual(
      store.hintBatch('node-1', 1).map((e) => e.key),
      ['a'],
    )
    t.deepEqual(
      store.hintBatch('node-1', 10, { bucket: 'bkt', key: 'a' }).map((e) => e.key),
      ['b'],
      'after a key',
    )
    t.deepEqual(
      store.hintBatch('node-10', 10).map((e) => e.key),
      ['a'],
    )
    t.deepEqual(
      store.hintBatch('node-0', 10).map((e) => [e.key, e.versions[0]?.tombstone]),
      [['a', true]],
    )
    t.deepEqual(store.hintBatch('node-2', 10), [])
  })

  test('drop removes hinted versions by dot, from the space named only', async (t) => {
    const { store, body } = await open(t)
    const H = hint('node-9')
    const big = await body('b'.repeat(3000))
    const v = foreignVersion('node-2.aaaa0000', 1, ctx(), big)
    await store.replicate('b', 'k', v, big, H)
    const small = await body('small')
    const w = foreignVersion('node-3.bbbb0000', 1, ctx(), small)
    await store.replicate('b', 'k', w, small, H)
    t.deepEqual(store.hintTotals(), { 'node-9': { versions: 2, bytes: 3005 } })
    t.is(await store.drop(H, 'b', 'k', [{ actor: 'node-2.aaaa0000', counter: 99 }]), 0, 'unknown dots: nothing to drop')
    t.is(await store.drop(hint('node-8'), 'b', 'k', [v.dot]), 0, "another target's space: nothing to drop")
    t.is(await store.drop({ kind: 'own' }, 'b', 'k', [v.dot]), 0, 'own space: nothing to drop')
    t.is(await store.drop(H, 'b', 'k', [v.dot]), 1)
    t.deepEqual(store.hintTotals(), { 'node-9': { versions: 1, bytes: 5 } })
    t.deepEqual(ids(store.versions('b', 'k', H)), [versionId(w.dot)])
    await t.throwsAsync(() => store.openData('b', 'k', versionId(v.dot), H), { instanceOf: NoSuchVersionError })
    t.is((await readAll(store.openData('b', 'k', versionId(w.dot), H))).toString(), 'small')
    t.is(await store.drop(H, 'b', 'k', [w.dot, v.dot]), 1)
    t.deepEqual(store.hintTotals(), {})
    t.deepEqual(store.versions('b', 'k', H), [])
    t.deepEqual(store.hintBatch('node-9', 10), [])
  })

  test('a hint past maxHintBytes (over every target together) throws HintStoreFullError and stores nothing; own data and tombstones are not bounded by it', async (t) => {
    const { store, body } = await open(t, { maxHintBytes: 300 })
    const H = hint('node-9')
    const firstBody = await body('f'.repeat(200))
    const first = foreignVersion('node-2.aaaa0000', 1, ctx(), firstBody)
    t.true((await store.replicate('b', 'k1', first, firstBody, H)).stored)
    const totals = store.hintTotals()
    const overBody = await body('o'.repeat(101))
    const over = foreignVersion('node-2.aaaa0000', 2, ctx(), overBody)
    await t.throwsAsync(store.replicate('b', 'k2', over, overBody, H), { instanceOf: HintStoreFullError })
    t.deepEqual(store.versions('b', 'k2', H), [])
    t.deepEqual(store.hintTotals(), totals)
    // Reaching the limit exactly is allowed, one byte more is not.
    const fill = await body('x'.repeat(100))
    t.true((await store.replicate('b', 'k3', foreignVersion('node-3.bbbb0000', 1, ctx(), fill), fill, hint('node-8'))).stored)
    const one = await body('x')
    await t.throwsAsync(store.replicate('b', 'k4', foreignVersion('node-3.bbbb0000', 2, ctx(), one), one, hint('node-7')), { instanceOf: HintStoreFullError })
    t.is(store.hintTotals()['node-7'], undefined)
    await t.throwsAsync(store.coordinate('b', 'k5', {}, await body('y'), H), { instanceOf: HintStoreFullError }, "a stand-in's coordinated write is refused the same way")
    t.deepEqual(store.versions('b', 'k5', H), [])
    t.true((await store.replicate('b', 'k2', over, await body('o'.repeat(101)))).stored, 'own data is not bounded')
    t.true((await store.replicate('b', 'k6', foreignVersion('node-3.bbbb0000', 3, ctx(), null), null, H)).stored, 'nor are hinted tombstones')
    t.is(await store.drop(H, 'b', 'k1', [first.dot]), 1)
    t.true((await store.replicate('b', 'k2', over, await body('o'.repeat(101)), H)).stored, 'handing hints off frees room')
  })

  test('past maxHints hinted versions (tombstones and empty objects count) a hint is refused with HintStoreFullError and nothing is stored', async (t) => {
    const { store, body } = await open(t, { maxHints: 3 })
    t.true((await store.replicate('b', 'k1', foreignVersion('node-2.aaaa0000', 1, ctx(), null), null, hint('node-9'))).stored)
    const empty = await body('')
    t.true((await store.replicate('b', 'k2', foreignVersion('node-2.aaaa0000', 2, ctx(), empty), empty, hint('node-9'))).stored)
    t.true((await store.replicate('b', 'k3', foreignVersion('node-2.aaaa0000', 3, ctx(), null), null, hint('node-8'))).stored)
    const totals = store.hintTotals()
    t.deepEqual(totals, { 'node-8': { versions: 1, bytes: 0 }, 'node-9': { versions: 2, bytes: 0 } })
    await t.throwsAsync(store.replicate('b', 'k4', foreignVersion('node-2.aaaa0000', 4, ctx(), null), null, hint('node-7')), { instanceOf: HintStoreFullError })
    await t.throwsAsync(store.coordinate('b', 'k5', { tombstone: true }, null, hint('node-9')), { instanceOf: HintStoreFullError })
    t.deepEqual(store.versions('b', 'k4', hint('node-7')), [])
    t.deepEqual(store.versions('b', 'k5', hint('node-9')), [])
    t.deepEqual(store.hintTotals(), totals)
    // A version that supersedes a held hint of its key adds none: taken.
    const newer = foreignVersion('node-2.aaaa0000', 9, ctx({ 'node-2.aaaa0000': 1 }), null)
    t.true((await store.replicate('b', 'k1', newer, null, hint('node-9'))).stored)
    t.deepEqual(store.hintTotals(), totals)
    t.true((await store.replicate('b', 'k4', foreignVersion('node-2.aaaa0000', 4, ctx(), null), null)).stored, 'own data is not bounded by it')
    t.is(await store.drop(hint('node-8'), 'b', 'k3', [{ actor: 'node-2.aaaa0000', counter: 3 }]), 1)
    t.true((await store.replicate('b', 'k6', foreignVersion('node-2.aaaa0000', 6, ctx(), null), null, hint('node-7'))).stored, 'handing one off makes room for one')
  })

  test('reapCandidates lists tombstone-only keys older than the cut-off; reap forgets only those', async (t) => {
    let now = NOW
    const { store, body } = await open(t, { now: () => now })
    await store.coordinate('b', 'dead', {}, await body('x'))
    now = NOW + 10
    const dead = await store.coordinate('b', 'dead', { tombstone: true }, null)
    now = NOW + 20
    const alive = await store.coordinate('b', 'alive', {}, await body('alive'))
    const mixedLive = await store.coordinate('b', 'mixed', { context: EMPTY_CONTEXT }, await body('m'))
    const mixedDel = await store.coordinate('b', 'mixed', { context: EMPTY_CONTEXT, tombstone: true }, null)
    t.is(store.versions('b', 'mixed').length, 2, 'a live version and a tombstone as siblings')
    now = NOW + 30
    const lone = await store.coordinate('b', 'lone', { tombstone: true }, null) // a delete of a key never written
    const candidates = (olderThan: number, limit = 10) => store.reapCandidates(olderThan, limit).map((c) => c.key)
    t.deepEqual(candidates(NOW + 10), [], 'strictly older than the cut-off')
    t.deepEqual(store.reapCandidates(NOW + 11, 10), [{ bucket: 'b', key: 'dead', versions: [dead.version] }])
    t.deepEqual(candidates(NOW + 31), ['dead', 'lone'])
    t.deepEqual(candidates(NOW + 31, 1), ['dead'])
    t.deepEqual(candidates(NOW + 31, 0), [])
    // Refused while a live version is held, or when a held tombstone is not among the dots.
    t.false(await store.reap('b', 'alive', [alive.version.dot]))
    t.deepEqual(ids(store.versions('b', 'alive')), [versionId(alive.version.dot)])
    t.false(await store.reap('b', 'mixed', [mixedLive.version.dot, mixedDel.version.dot]))
    t.is(store.versions('b', 'mixed').length, 2)
    t.false(await store.reap('b', 'dead', []))
    t.false(await store.reap('b', 'dead', [{ actor: dead.version.dot.actor, counter: dead.version.dot.counter + 1 }]))
    t.is(store.versions('b', 'dead').length, 1)
    // Succeeds for tombstones among the given dots (extra dots are fine).
    t.true(await store.reap('b', 'dead', [{ actor: 'node-7.dddd0000', counter: 1 }, dead.version.dot]))
    t.deepEqual(store.versions('b', 'dead'), [])
    t.deepEqual(candidates(NOW + 31), ['lone'])
    t.deepEqual(
      store.list('b', { prefix: '', limit: 10 }).entries.map((e) => e.key),
      ['alive', 'lone', 'mixed'],
    )
    t.true(await store.reap('b', 'dead', [dead.version.dot]), 'a key already gone stays gone')
    // A tombstone that arrived after the candidates were read blocks the reap.
    const late = foreignVersion('node-2.aaaa0000', 1, ctx(), null)
    t.true((await store.replicate('b', 'lone', late, null)).stored)
    t.false(await store.reap('b', 'lone', [lone.version.dot]))
    t.true(await store.reap('b', 'lone', [lone.version.dot, late.dot]))
    // A live write over a tombstone takes the key off the candidates; a tombstone over it puts it back.
    const tomb = await store.coordinate('b', 'back', { tombstone: true }, null)
    t.deepEqual(candidates(NOW + 31), ['back'])
    const revived = await store.coordinate('b', 'back', {}, await body('again'))
    t.deepEqual(candidates(NOW + 31), [])
    t.false(await store.reap('b', 'back', [tomb.version.dot, revived.version.dot]))
    now = NOW + 40
    await store.coordinate('b', 'back', { tombstone: true }, null)
    t.deepEqual(candidates(NOW + 31), [], 'the newest tombstone dates the key')
    t.deepEqual(candidates(NOW + 41), ['back'])
  })

  test('the segment entries follow every change of the own data (and not of hints)', async (t) => {
    const { store, body } = await open(t)
    const seg = segmentOf('b', 'k')
    const entry = () => [...store.segmentEntries(seg)].find((e) => e.bucket === 'b' && e.key === 'k')
    t.is(entry(), undefined)
    const one = await store.coordinate('b', 'k', {}, await body('one'))
    t.is(entry()?.ids, versionId(one.version.dot))
    const two = await store.coordinate('b', 'k', { context: EMPTY_CONTEXT }, await body('two'))
    t.is(entry()?.ids, [versionId(one.version.dot), versionId(two.version.dot)].sort().join(' '), 'siblings: both ids, sorted')
    await store.coordinate('b', 'hinted', {}, await body('h'), hint('node-2'))
    t.false(
      [...store.segmentEntries(segmentOf('b', 'hinted'))].some((e) => e.key === 'hinted'),
      'hints are not indexed',
    )
    const dead = await store.coordinate('b', 'k', { context: contextOf(store.versions('b', 'k')), tombstone: true }, null)
    t.is(entry()?.ids, versionId(dead.version.dot))
    t.true(await store.reap('b', 'k', [dead.version.dot]))
    t.is(entry(), undefined, 'a reaped key leaves the index')
    for (let s = 0; s < 256; s++) for (const e of store.segmentEntries(s)) t.is(segmentOf(e.bucket, e.key), s)
  })

  test('versionsWithData gives the bytes of the only live version up to maxBytes; no result of the store carries bytes', async (t) => {
    const { store, body } = await open(t)
    const w = await store.coordinate('b', 'k', {}, await body('z'.repeat(600)))
    t.deepEqual(Object.keys(await store.versionsWithData('b', 'k', { kind: 'own' }, 100)), ['versions'])
    t.is((await store.versionsWithData('b', 'k', { kind: 'own' }, 600)).data?.length, 600)
    await store.coordinate('b', 'k', { context: EMPTY_CONTEXT }, await body('sibling'))
    t.deepEqual(Object.keys(await store.versionsWithData('b', 'k', { kind: 'own' }, 1000)), ['versions'], 'siblings: no bytes')
    const hinted = await store.coordinate('b', 'h', {}, await body('hinted'), hint('node-2'))
    t.deepEqual((await store.versionsWithData('b', 'h', hint('node-2'), 100)).data, Buffer.from('hinted'))
    const replicated = await store.replicate('b', 'r', foreignVersion('node-3.cafe0001', 1, EMPTY_CONTEXT, await body('from node 3')), await body('from node 3'))
    t.deepEqual((await store.versionsWithData('b', 'r', { kind: 'own' }, 100)).data, Buffer.from('from node 3'))
    const everything = JSON.stringify([
      w,
      hinted,
      replicated,
      store.versions('b', 'k'),
      store.versions('b', 'h', hint('node-2')),
      store.hintBatch('node-2', 10),
      store.list('b', { prefix: '', limit: 10 }),
      store.reapCandidates(Number.POSITIVE_INFINITY, 10),
    ])
    t.false(everything.includes('"bytes"'))
  })

  test('a coordinated write keeps the MD5 it was given (not on a tombstone), and openData serves a range', async (t) => {
    const { store, body } = await open(t)
    const md5 = 'e2fc714c4727ee9395f324cd2e7f331f'
    const w = await store.coordinate('b', 'k', { md5 }, await body('abcdef'))
    t.is(w.version.md5, md5)
    t.is(store.versions('b', 'k')[0]?.md5, md5)
    t.is((await readAll(store.openData('b', 'k', versionId(w.version.dot), undefined, { start: 1, end: 3 }))).toString(), 'bcd')
    t.is((await readAll(store.openData('b', 'k', versionId(w.version.dot), undefined, { start: 5, end: 5 }))).toString(), 'f')
    const del = await store.coordinate('b', 'k', { tombstone: true, md5 }, null)
    t.is(del.version.md5, undefined)
  })
}
