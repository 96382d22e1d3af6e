import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import test, { type ExecutionContext } from 'ava'
import type { RootDatabase } from 'lmdb'
import { EntityTooLargeError, HintStoreFullError, NoSuchVersionError, TooManySiblingsError, WriteExpiredError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import { type CausalContext, clockOf, contextOf, type Dot, EMPTY_CONTEXT, versionId } from '../../../shared/vclock/versions.js'
import type { Version } from '../../../shared/wire/internal-api.js'
import { BlobFiles, EMPTY_ETAG, type ReceivedBody } from '../../../storage-node/store/blobs/blob-files.js'
import { STORE_LAYOUT, UnsupportedLayoutError } from '../../../storage-node/store/layout.js'
import { LmdbObjectStore, type LmdbObjectStoreInit } from '../../../storage-node/store/lmdb-object-store.js'
import type { Space } from '../../../storage-node/store/object-store.js'
import { segmentOf } from '../../../storage-node/store/segment-index.js'

const INLINE_MAX = 1024
const MAX_OBJECT = 64 * 1024
const NOW = 1_700_000_000_000
const OWN: Space = { kind: 'own' }

let root = ''
test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'lmdb-object-store-test-'))
})
test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true })
})

interface Opened {
  store: LmdbObjectStore
  blobs: BlobFiles
  dir: string
  /** Close the store (idempotent; the teardown closes it too). */
  close: () => Promise<void>
}

type StoreOptions = Partial<Pick<LmdbObjectStoreInit, 'durability' | 'maxSiblings' | 'maxClockEntries' | 'maxHintBytes' | 'maxHints' | 'embedMaxBytes' | 'now' | 'log'>>

/** Open a store on `dir` (a fresh dir under the test root when omitted); closed, and a fresh dir removed, after the test. */
async function openStore(t: ExecutionContext, dir?: string, options: StoreOptions = {}): Promise<Opened> {
  const dataDir = dir ?? (await mkdtemp(join(root, 'node-')))
  const blobs = new BlobFiles({ dataDir, inlineMaxBytes: INLINE_MAX, maxObjectBytes: MAX_OBJECT })
  await blobs.start()
  const store = new LmdbObjectStore({ nodeId: 'node-1', dataDir, blobs, now: () => NOW, ...options })
  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= store.close()
    return closing
  }
  t.teardown(async () => {
    await close()
    if (!dir) await rm(dataDir, { recursive: true, force: true })
  })
  return { store, blobs, dir: dataDir, close }
}

async function body(blobs: BlobFiles, bytes: Buffer | string): Promise<ReceivedBody> {
  return blobs.receive(Readable.from([Buffer.from(bytes)]))
}

async function readAll(opened: Readable | Promise<Readable>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of await opened) chunks.push(Buffer.from(c as Uint8Array))
  return Buffer.concat(chunks)
}

const ids = (vs: readonly Version[]) => vs.map((v) => versionId(v.dot)).sort()
const ctx = (vv: Record<string, number> = {}, dots: Dot[] = []): CausalContext => ({ vv, dots })
/** The actor of the n-th key incarnation of this store's node (see planCoordinatedWrite). */
const inc = (store: LmdbObjectStore, n: number) => `${store.actor}~${n}`

/** A version as another node would have made it. */
function foreignVersion(actor: string, counter: number, context: CausalContext, b: ReceivedBody | null): Version {
  return {
    dot: { actor, counter },
    context,
    tombstone: b === null,
    size: b?.size ?? 0,
    etag: b?.etag ?? EMPTY_ETAG,
    contentType: 'text/plain',
    lastModified: NOW,
    node: actor.split('.')[0] as string,
  }
}

// ---------------------------------------------------------------------------------------------
// durability

test('durability none opens LMDB without syncing commits (lmdb-js would sync a no-flush commit anyway); the default syncs, and both read back', async (t) => {
  for (const durability of ['none', 'fsync'] as const) {
    const { store, blobs, dir, close } = await openStore(t, undefined, { durability })
    t.is(store.syncsCommits, durability === 'fsync', durability)
    await store.coordinate('b', 'k', {}, await body(blobs, `bytes-${durability}`))
    await close()
    const reopened = await openStore(t, dir, { durability })
    t.is(reopened.store.versions('b', 'k').length, 1, durability)
  }
})

// ---------------------------------------------------------------------------------------------
// blob-files.ts

test('receive keeps small bodies inline and spills larger ones to a temp file', async (t) => {
  const { blobs } = await openStore(t)
  const small = await body(blobs, 'hello')
  t.like(small, { kind: 'inline', size: 5 })
  t.is(small.etag, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824')
  const edge = await body(blobs, Buffer.alloc(INLINE_MAX, 1))
  t.is(edge.kind, 'inline', 'exactly inlineMaxBytes stays inline')
  const big = await body(blobs, Buffer.alloc(INLINE_MAX + 1, 1))
  t.is(big.kind, 'file')
  t.is(big.size, INLINE_MAX + 1)
  const empty = await blobs.receive(Readable.from([]))
  t.like(empty, { kind: 'inline', size: 0, etag: EMPTY_ETAG })
})

test('receive of a body larger than maxObjectBytes throws EntityTooLargeError and leaves no temp file', async (t) => {
  const { blobs, dir } = await openStore(t)
  const tmp = join(dir, 'tmp')
  // One big chunk: refused before anything is written.
  await t.throwsAsync(blobs.receive(Readable.from([randomBytes(MAX_OBJECT + 1)])), { instanceOf: EntityTooLargeError })
  t.deepEqual(await readdir(tmp), [])
  // Several chunks: a temp file is already open when the limit is crossed; it must be removed.
  const chunks = Array.from({ length: 40 }, () => randomBytes(2048))
  await t.throwsAsync(blobs.receive(Readable.from(chunks)), { instanceOf: EntityTooLargeError })
  t.deepEqual(await readdir(tmp), [])
  // A declared size above the limit is refused before reading.
  await t.throwsAsync(blobs.receive(Readable.from([Buffer.from('x')]), MAX_OBJECT + 1), { instanceOf: EntityTooLargeError })
  t.deepEqual(await readdir(tmp), [])
  // Exactly the limit is fine.
  const ok = await blobs.receive(Readable.from([randomBytes(MAX_OBJECT)]))
  t.is(ok.size, MAX_OBJECT)
  await blobs.discard(ok)
  t.deepEqual(await readdir(tmp), [])
})

test('receive refuses a body shorter than its declared size and leaves no temp file', async (t) => {
  const { blobs, dir } = await openStore(t)
  await t.throwsAsync(blobs.receive(Readable.from([randomBytes(3000)]), 4000))
  t.deepEqual(await readdir(join(dir, 'tmp')), [])
})

// ---------------------------------------------------------------------------------------------
// coordinate

test('coordinate without context replaces what the node holds', async (t) => {
  const { store, blobs } = await openStore(t)
  const first = await store.coordinate('b', 'k', {}, await body(blobs, 'one'))
  t.true(first.stored)
  t.deepEqual(first.version.dot, { actor: inc(store, 1), counter: 1 }, 'a new key: the first incarnation of this node')
  t.like(first.version, { tombstone: false, size: 3, contentType: 'application/octet-stream', lastModified: NOW, node: 'node-1' })
  t.deepEqual(first.version.context, EMPTY_CONTEXT)
  t.deepEqual(first.clock, { [inc(store, 1)]: 1 })

  const second = await store.coordinate('b', 'k', { contentType: 'text/plain' }, await body(blobs, 'two'))
  t.deepEqual(second.version.dot, { actor: inc(store, 1), counter: 2 })
  t.deepEqual(second.version.context, ctx({ [inc(store, 1)]: 1 }))
  t.deepEqual(ids(store.versions('b', 'k')), [versionId(second.version.dot)])
  t.is((await readAll(store.openData('b', 'k', versionId(second.version.dot)))).toString(), 'two')
  await t.throwsAsync(() => store.openData('b', 'k', versionId(first.version.dot)), { instanceOf: NoSuchVersionError })
  t.is(store.versions('b', 'k')[0]?.contentType, 'text/plain')
  t.deepEqual(store.versions('b', 'other'), [])
})

test('a coordinate whose expiresAt has passed (by the store clock) stores nothing; one within it stores', async (t) => {
  const { store, blobs } = await openStore(t)
  await t.throwsAsync(store.coordinate('b', 'late', { expiresAt: NOW - 1 }, await body(blobs, 'late')), { instanceOf: WriteExpiredError })
  t.deepEqual(store.versions('b', 'late'), [])
  const inTime = await store.coordinate('b', 'late', { expiresAt: NOW }, await body(blobs, 'in time'))
  t.true(inTime.stored)
  t.deepEqual(ids(store.versions('b', 'late')), [versionId(inTime.version.dot)])
})

test('two coordinates with the same explicit stale context keep both versions', async (t) => {
  const { store, blobs } = await openStore(t)
  const first = await store.coordinate('b', 'k', {}, await body(blobs, 'v1'))
  const context = contextOf(store.versions('b', 'k')) // what a reader got
  t.deepEqual(context, ctx({ [first.version.dot.actor]: 1 }))
  const x = await store.coordinate('b', 'k', { context }, await body(blobs, 'x'))
  const y = await store.coordinate('b', 'k', { context }, await body(blobs, 'y'))
  t.not(versionId(x.version.dot), versionId(y.version.dot))
  t.deepEqual(ids(store.versions('b', 'k')), ids([x.version, y.version]))
  t.deepEqual(y.clock, { [inc(store, 1)]: 3 })
  t.deepEqual(contextOf(store.versions('b', 'k')), ctx({ [inc(store, 1)]: 3 }), 'a reader of both has seen both')
  t.is((await readAll(store.openData('b', 'k', versionId(x.version.dot)))).toString(), 'x')
  t.is((await readAll(store.openData('b', 'k', versionId(y.version.dot)))).toString(), 'y')
  // A write over their context resolves them.
  const z = await store.coordinate('b', 'k', { context: contextOf(store.versions('b', 'k')) }, await body(blobs, 'z'))
  t.deepEqual(ids(store.versions('b', 'k')), [versionId(z.version.dot)])
})

test('tombstone: coordinate with tombstone:true and no body', async (t) => {
  const { store, blobs } = await openStore(t)
  await store.coordinate('b', 'k', {}, await body(blobs, 'data'))
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
  const { store, blobs } = await openStore(t)
  const w = await store.coordinate('b', 'k', {}, await body(blobs, ''))
  t.like(w.version, { size: 0, tombstone: false, etag: EMPTY_ETAG })
  t.is((await readAll(store.openData('b', 'k', versionId(w.version.dot)))).length, 0)
})

// ---------------------------------------------------------------------------------------------
// replicate

test('replicate stores a new version next to concurrent ones and is idempotent', async (t) => {
  const { store, blobs } = await openStore(t)
  const local = await store.coordinate('b', 'k', {}, await body(blobs, 'local'))
  const remoteBody = await body(blobs, 'remote')
  const remote = foreignVersion('node-2.aaaa0000', 1, ctx(), remoteBody)
  const r1 = await store.replicate('b', 'k', remote, remoteBody)
  t.true(r1.stored)
  t.deepEqual(r1.clock, { [local.version.dot.actor]: 1, 'node-2.aaaa0000': 1 })
  t.deepEqual(ids(store.versions('b', 'k')), ids([local.version, remote]))

  const r2 = await store.replicate('b', 'k', remote, await body(blobs, 'remote'))
  t.false(r2.stored, 'already held')
  t.deepEqual(r2.clock, r1.clock)
  t.deepEqual(ids(store.versions('b', 'k')), ids([local.version, remote]))
  t.is((await readAll(store.openData('b', 'k', versionId(remote.dot)))).toString(), 'remote')
})

test('replicate of a superseded version is not stored', async (t) => {
  const { store, blobs } = await openStore(t)
  const oldBody = await body(blobs, 'old')
  const old = foreignVersion('node-2.aaaa0000', 1, ctx(), oldBody)
  const newerBody = await body(blobs, 'new')
  const newer = foreignVersion('node-3.bbbb0000', 1, ctx({ 'node-2.aaaa0000': 1 }), newerBody)
  t.true((await store.replicate('b', 'k', newer, newerBody)).stored)
  const late = await store.replicate('b', 'k', old, oldBody)
  t.false(late.stored)
  t.deepEqual(late.clock, clockOf(newer))
  t.deepEqual(ids(store.versions('b', 'k')), [versionId(newer.dot)])
  await t.throwsAsync(() => store.openData('b', 'k', versionId(old.dot)), { instanceOf: NoSuchVersionError })
})

test('replicate of a version that supersedes local ones drops them', async (t) => {
  const { store, blobs } = await openStore(t)
  const a = await store.coordinate('b', 'k', {}, await body(blobs, 'a'))
  const b = foreignVersion('node-2.aaaa0000', 1, ctx(), await body(blobs, 'b'))
  await store.replicate('b', 'k', b, await body(blobs, 'b'))
  const resolvedBody = await body(blobs, 'resolved')
  const resolved = foreignVersion('node-2.aaaa0000', 2, ctx({ [a.version.dot.actor]: 1, 'node-2.aaaa0000': 1 }), resolvedBody)
  const r = await store.replicate('b', 'k', resolved, resolvedBody)
  t.true(r.stored)
  t.deepEqual(ids(store.versions('b', 'k')), [versionId(resolved.dot)])
  await t.throwsAsync(() => store.openData('b', 'k', versionId(a.version.dot)), { instanceOf: NoSuchVersionError })
})

test('a replicated file-backed version that is superseded leaves no blob file', async (t) => {
  const { store, blobs } = await openStore(t)
  const newerBody = await body(blobs, 'n')
  const newer = foreignVersion('node-3.bbbb0000', 1, ctx({ 'node-2.aaaa0000': 1 }), newerBody)
  await store.replicate('b', 'k', newer, newerBody)
  const bigOld = await body(blobs, randomBytes(4 * INLINE_MAX))
  t.is(bigOld.kind, 'file')
  const r = await store.replicate('b', 'k', foreignVersion('node-2.aaaa0000', 1, ctx(), bigOld), bigOld)
  t.false(r.stored)
  t.is(await blobs.countFiles(), 0)
})

// ---------------------------------------------------------------------------------------------
// large bodies

test('a retried request read and overwritten: the new version retires it, its first attempt arriving later is not kept (replicated) or refused (coordinated); across a reopen too', async (t) => {
  const { store, blobs, dir, close } = await openStore(t, await mkdtemp(join(root, 'node-')))
  const v1 = await store.coordinate('b', 'k', { contentType: 'text/plain' }, await body(blobs, 'v1'))
  const read1 = contextOf([v1.version])
  // Request W: its first attempt was stored on another node, unheard; the retry coordinates here.
  const retry = await store.coordinate('b', 'k', { context: read1, writeId: 'req-W0000001', retried: true }, await body(blobs, 'v2'))
  t.true(retry.version.retried)
  const over = await store.coordinate('b', 'k', { context: contextOf([retry.version]), writeId: 'req-X0000001' }, await body(blobs, 'v3'))
  t.deepEqual(over.version.retired, ['req-W0000001'])
  const firstBody = await body(blobs, 'v2')
  const first = { ...foreignVersion('node-2.aaaa0000~1', 2, read1, firstBody), writeId: 'req-W0000001' }
  const late = await store.replicate('b', 'k', first, firstBody)
  t.false(late.stored, 'the first attempt is superseded by the version that retired its request')
  t.deepEqual(ids(store.versions('b', 'k')), [versionId(over.version.dot)])
  // The same request coordinated here now (its first attempt, late): refused, and no dot is spent.
  await t.throwsAsync(async () => store.coordinate('b', 'k', { writeId: 'req-W0000001' }, await body(blobs, 'v2')), { instanceOf: WriteExpiredError })
  t.deepEqual(ids(store.versions('b', 'k')), [versionId(over.version.dot)])
  const next = await store.coordinate('b', 'k', { context: contextOf([over.version]), writeId: 'req-Y0000001' }, await body(blobs, 'v4'))
  t.is(next.version.dot.counter, over.version.dot.counter + 1, 'the next write takes the next dot')
  t.deepEqual(next.version.retired, ['req-W0000001'], 'and carries the retirement on')
  await close()
  const reopened = await openStore(t, dir)
  t.deepEqual(reopened.store.versions('b', 'k').map((v) => v.retired), [['req-W0000001']], 'retired is stored with the version')
  await t.throwsAsync(async () => reopened.store.coordinate('b', 'k', { writeId: 'req-W0000001' }, await body(reopened.blobs, 'v2')), { instanceOf: WriteExpiredError })
  t.false((await reopened.store.replicate('b', 'k', first, await body(reopened.blobs, 'v2'))).stored)
})

test('a body above inlineMaxBytes becomes a file and streams back identical bytes', async (t) => {
  const { store, blobs, dir } = await openStore(t)
  const bytes = randomBytes(5 * INLINE_MAX + 17)
  const received = await blobs.receive(Readable.from([bytes]))
  t.is(received.kind, 'file')
  const w = await store.coordinate('b', 'big', {}, received)
  t.is(w.version.size, bytes.length)
  t.is(await blobs.countFiles(), 1)
  const back = await readAll(store.openData('b', 'big', versionId(w.version.dot)))
  t.true(back.equals(bytes))
  t.deepEqual(await readdir(join(dir, 'tmp')), [], 'the temp file was moved, not copied')
})

test('a version dropped by a later write removes its blob file', async (t) => {
  const { store, blobs } = await openStore(t)
  const one = randomBytes(3 * INLINE_MAX)
  const two = randomBytes(3 * INLINE_MAX)
  const w1 = await store.coordinate('b', 'k', {}, await blobs.receive(Readable.from([one])))
  t.is(await blobs.countFiles(), 1)
  const w2 = await store.coordinate('b', 'k', {}, await blobs.receive(Readable.from([two])))
  t.is(await blobs.countFiles(), 1, 'the overwritten version’s file is gone')
  t.true((await readAll(store.openData('b', 'k', versionId(w2.version.dot)))).equals(two))
  await t.throwsAsync(() => store.openData('b', 'k', versionId(w1.version.dot)), { instanceOf: NoSuchVersionError })
  // Siblings keep their files; resolving them removes all but the survivor's.
  const read = contextOf(store.versions('b', 'k'))
  await store.coordinate('b', 'k', { context: read }, await blobs.receive(Readable.from([randomBytes(2 * INLINE_MAX)])))
  await store.coordinate('b', 'k', { context: read }, await blobs.receive(Readable.from([randomBytes(2 * INLINE_MAX)])))
  t.is(store.versions('b', 'k').length, 2)
  t.is(await blobs.countFiles(), 2)
  await store.coordinate('b', 'k', { context: contextOf(store.versions('b', 'k')) }, await body(blobs, 'small again'))
  t.is(await blobs.countFiles(), 0, 'an inline survivor leaves no files')
})

// ---------------------------------------------------------------------------------------------
// list

test('list honours bucket, prefix, after, limit and truncated', async (t) => {
  const { store, blobs } = await openStore(t)
  const put = async (bucket: string, key: string) => store.coordinate(bucket, key, {}, await body(blobs, `${bucket}/${key}`))
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
  t.false('blob' in (entry?.versions[0] ?? {}), 'listings show public versions only')
  t.deepEqual(
    store.list('nobucket', { prefix: '', limit: 10 }),
    { entries: [], truncated: false },
  )
})

// ---------------------------------------------------------------------------------------------
// actor and incarnations

test('the actor survives close and reopen, and key incarnations keep increasing', async (t) => {
  const first = await openStore(t)
  const dir = first.dir
  t.regex(first.store.actor, /^node-1\.[0-9a-f]{8}$/)
  const dots = new Set<string>()
  const written: Dot[] = []
  for (const key of ['x', 'y', 'x']) written.push((await first.store.coordinate('b', key, {}, await body(first.blobs, key))).version.dot)
  for (const d of written) dots.add(versionId(d))
  const actor = first.store.actor
  // x is new: incarnation 1; y is new: incarnation 2; x again continues incarnation 1.
  t.deepEqual(written, [
    { actor: `${actor}~1`, counter: 1 },
    { actor: `${actor}~2`, counter: 1 },
    { actor: `${actor}~1`, counter: 2 },
  ])
  await first.close()

  const again = await openStore(t, dir)
  t.is(again.store.actor, actor)
  // A new key: its held set says nothing, only the persisted count of incarnations does.
  const w = await again.store.coordinate('b', 'fresh', {}, await body(again.blobs, 'f'))
  t.deepEqual(w.version.dot, { actor: `${actor}~3`, counter: 1 })
  t.false(dots.has(versionId(w.version.dot)), 'no dot reused after reopen')
  const x = await again.store.coordinate('b', 'x', {}, await body(again.blobs, 'x3'))
  t.deepEqual(x.version.dot, { actor: `${actor}~1`, counter: 3 }, 'a held key continues its incarnation')
  // Old data is still there.
  t.is(again.store.versions('b', 'x').length, 1)
  t.is(again.store.versions('b', 'y').length, 1)
  const y = again.store.versions('b', 'y')[0] as Version
  t.is((await readAll(again.store.openData('b', 'y', versionId(y.dot)))).toString(), 'y')
  await again.close()

  const other = await openStore(t)
  t.not(other.store.actor, actor, 'a new data directory gets a new epoch')
  t.regex(other.store.actor, /^node-1\./)
})

test('many coordinated writes over every kind of context never reuse a dot', async (t) => {
  const { store, blobs } = await openStore(t)
  const seen = new Set<string>()
  const last = new Map<string, number>()
  for (let i = 0; i < 60; i++) {
    const key = `k${i % 5}`
    // Explicit empty (stale) context, no context, or the context of everything held.
    const context = i % 3 === 0 ? EMPTY_CONTEXT : i % 3 === 1 ? undefined : contextOf(store.versions('b', key))
    const w = await store.coordinate('b', key, { context }, await body(blobs, `${i}`))
    const id = versionId(w.version.dot)
    t.false(seen.has(id), `dot ${id} reused`)
    t.true(w.version.dot.actor.startsWith(`${store.actor}~`))
    t.true(w.version.dot.counter > (last.get(w.version.dot.actor) ?? 0), `${id} not above earlier dots of its actor`)
    last.set(w.version.dot.actor, w.version.dot.counter)
    seen.add(id)
  }
})

test('a key forgotten by reaping gets a new incarnation, so its old dots are never reissued', async (t) => {
  const { store, blobs } = await openStore(t)
  const live = await store.coordinate('b', 'k', {}, await body(blobs, 'one'))
  const del = await store.coordinate('b', 'k', { tombstone: true }, null)
  t.is(del.version.dot.actor, live.version.dot.actor)
  t.true(await store.reap('b', 'k', [del.version.dot]))
  t.deepEqual(store.versions('b', 'k'), [])
  // The node has no trace of the key: a write must not start over at (same actor, 1).
  const again = await store.coordinate('b', 'k', {}, await body(blobs, 'two'))
  t.not(again.version.dot.actor, live.version.dot.actor)
  t.false([live, del].some((w) => versionId(w.version.dot) === versionId(again.version.dot)))
  t.deepEqual(again.version.dot, { actor: inc(store, 2), counter: 1 })
})

test('maxClockEntries bounds the context of a coordinated write', async (t) => {
  const { store, blobs } = await openStore(t, undefined, { maxClockEntries: 2 })
  const wide = ctx({ 'n1.a~1': 3, 'n2.b~1': 9, 'n3.c~1': 1 }, [{ actor: 'n4.d~1', counter: 7 }])
  const w = await store.coordinate('b', 'k', { context: wide }, await body(blobs, 'v'))
  t.deepEqual(w.version.context, ctx({ 'n2.b~1': 9 }, [{ actor: 'n4.d~1', counter: 7 }]), 'the two actors with the highest counters are kept')
  t.deepEqual(store.versions('b', 'k')[0]?.context, w.version.context, 'and stored as such')
})

test('a coordinated write past maxSiblings is refused and leaves nothing behind', async (t) => {
  const { store, blobs, dir } = await openStore(t, undefined, { maxSiblings: 2 })
  const stale = EMPTY_CONTEXT
  await store.coordinate('b', 'k', { context: stale }, await body(blobs, 'one'))
  await store.coordinate('b', 'k', { context: stale }, await blobs.receive(Readable.from([randomBytes(2 * INLINE_MAX)])))
  const before = ids(store.versions('b', 'k'))
  t.is(before.length, 2)
  t.is(await blobs.countFiles(), 1)
  await t.throwsAsync(store.coordinate('b', 'k', { context: stale }, await blobs.receive(Readable.from([randomBytes(2 * INLINE_MAX)]))), {
    instanceOf: TooManySiblingsError,
  })
  t.deepEqual(ids(store.versions('b', 'k')), before)
  t.is(await blobs.countFiles(), 1, 'the refused version\'s blob file is removed')
  t.deepEqual(await readdir(join(dir, 'tmp')), [])
  // A tombstone adds no live sibling, and a write over the context of all resolves them.
  t.true((await store.coordinate('b', 'k', { context: stale, tombstone: true }, null)).stored)
  t.is(store.versions('b', 'k').length, 3)
  const resolved = await store.coordinate('b', 'k', { context: contextOf(store.versions('b', 'k')) }, await body(blobs, 'resolved'))
  t.deepEqual(ids(store.versions('b', 'k')), [versionId(resolved.version.dot)])
  t.is(await blobs.countFiles(), 0)
})

test('replicate still accepts the (maxSiblings+1)-th live sibling that coordinate refuses, and logs it', async (t) => {
  const warnings: { obj: unknown; msg: string }[] = []
  const log = { warn: (obj: unknown, msg: string) => warnings.push({ obj, msg }) } as unknown as Logger
  const { store, blobs } = await openStore(t, undefined, { maxSiblings: 2, log })
  const stale = EMPTY_CONTEXT
  await store.coordinate('b', 'k', { context: stale }, await body(blobs, 'one'))
  await store.coordinate('b', 'k', { context: stale }, await body(blobs, 'two'))
  await t.throwsAsync(store.coordinate('b', 'k', { context: stale }, await body(blobs, 'three')), { instanceOf: TooManySiblingsError })
  t.is(store.versions('b', 'k').length, 2)
  t.deepEqual(warnings, [])
  // The same third sibling made elsewhere was acknowledged there: a replica must keep it.
  const extraBody = await body(blobs, 'made elsewhere')
  const extra = foreignVersion('node-2.aaaa0000', 1, stale, extraBody)
  const r = await store.replicate('b', 'k', extra, extraBody)
  t.true(r.stored)
  t.is(store.versions('b', 'k').filter((v) => !v.tombstone).length, 3)
  t.is((await readAll(store.openData('b', 'k', versionId(extra.dot)))).toString(), 'made elsewhere')
  t.is(warnings.length, 1)
  t.like(warnings[0]?.obj, { bucket: 'b', key: 'k', siblings: 3 })
  // Coordinated writes stay refused until the siblings are resolved.
  await t.throwsAsync(store.coordinate('b', 'k', { context: stale }, await body(blobs, 'four')), { instanceOf: TooManySiblingsError })
  const resolved = await store.coordinate('b', 'k', { context: contextOf(store.versions('b', 'k')) }, await body(blobs, 'resolved'))
  t.deepEqual(ids(store.versions('b', 'k')), [versionId(resolved.version.dot)])
})

// ---------------------------------------------------------------------------------------------
// hints

const hint = (target: string): Space => ({ kind: 'hint', target })

test('hinted versions are invisible to own-space versions() and list(), and readable in their own space', async (t) => {
  const { store, blobs } = await openStore(t)
  const H = hint('node-9')
  const hb = await body(blobs, 'hinted')
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
  const c = await store.coordinate('b', 'k2', {}, await body(blobs, 'stand-in write'), H)
  t.true(c.stored)
  t.deepEqual(store.versions('b', 'k2'), [])
  t.deepEqual(ids(store.versions('b', 'k2', H)), [versionId(c.version.dot)])
  t.deepEqual(store.list('b', { prefix: '', limit: 10 }).entries, [])

  // The same version held as own data and as a hint has its own bytes in each space.
  const own = await body(blobs, 'hinted')
  t.true((await store.replicate('b', 'k', v, own)).stored, 'own space did not have it yet')
  t.deepEqual(
    store.list('b', { prefix: '', limit: 10 }).entries.map((e) => e.key),
    ['k'],
  )
  t.is(await store.drop(H, 'b', 'k', [v.dot]), 1)
  t.deepEqual(ids(store.versions('b', 'k')), [versionId(v.dot)], 'dropping the hint leaves own data')
  t.is((await readAll(store.openData('b', 'k', versionId(v.dot)))).toString(), 'hinted')
  await t.throwsAsync(() => store.openData('b', 'k', versionId(v.dot), H), { instanceOf: NoSuchVersionError })
})

test('hintTotals counts hinted versions and bytes per target; hintBatch lists one target\'s keys', async (t) => {
  const { store, blobs } = await openStore(t)
  t.deepEqual(store.hintTotals(), {})
  const put = async (target: string, key: string, actor: string, counter: number, bytes: string | null, context = ctx()) => {
    const b = bytes === null ? null : await body(blobs, bytes)
    const v = foreignVersion(actor, counter, context, b)
    return { v, r: await store.replicate('bkt', key, v, b, hint(target)) }
  }
  await put('node-1', 'a', 'node-2.aaaa0000', 1, 'aaaaa')
  await put('node-1', 'a', 'node-3.bbbb0000', 1, 'xy') // a sibling of a1
  await put('node-1', 'b', 'node-2.aaaa0000', 2, 'bbb')
  await put('node-10', 'a', 'node-2.aaaa0000', 1, 'aaaaa') // a target whose id extends another's
  await put('node-0', 'a', 'node-2.aaaa0000', 3, null) // a hinted tombstone
  await store.coordinate('bkt', 'a', {}, await body(blobs, 'own data is not a hint'))
  const expected = {
    'node-0': { versions: 1, bytes: 0 },
    'node-1': { versions: 3, bytes: 10 },
    'node-10': { versions: 1, bytes: 5 },
  }
  t.deepEqual(store.hintTotals(), expected)
  // Redelivery of a held hint changes nothing.
  t.false((await put('node-1', 'a', 'node-2.aaaa0000', 1, 'aaaaa')).r.stored)
  t.deepEqual(store.hintTotals(), expected)
  // A hinted version that supersedes both hinted siblings replaces them.
  await put('node-1', 'a', 'node-4.cccc0000', 1, 'z', ctx({ 'node-2.aaaa0000': 1, 'node-3.bbbb0000': 1 }))
  t.deepEqual(store.hintTotals()['node-1'], { versions: 2, bytes: 4 })
  t.deepEqual(ids(store.versions('bkt', 'a', hint('node-1'))), ['node-4.cccc0000.1'])

  const batch = store.hintBatch('node-1', 10)
  t.deepEqual(
    batch.map((e) => [e.bucket, e.key, ids(e.versions)]),
    [
      ['bkt', 'a', ['node-4.cccc0000.1']],
      ['bkt', 'b', ['node-2.aaaa0000.2']],
    ],
  )
  t.false(batch.some((e) => e.versions.some((v) => 'blob' in v)), 'public versions only')
  t.deepEqual(
    store.hintBatch('node-1', 1).map((e) => e.key),
    ['a'],
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

test('drop removes hinted versions and their bytes, file-backed ones included', async (t) => {
  const { store, blobs } = await openStore(t)
  const H = hint('node-9')
  const big = await body(blobs, randomBytes(3 * INLINE_MAX))
  t.is(big.kind, 'file')
  const v = foreignVersion('node-2.aaaa0000', 1, ctx(), big)
  await store.replicate('b', 'k', v, big, H)
  const small = await body(blobs, 'small')
  const w = foreignVersion('node-3.bbbb0000', 1, ctx(), small)
  await store.replicate('b', 'k', w, small, H)
  t.is(await blobs.countFiles(), 1)
  t.deepEqual(store.hintTotals(), { 'node-9': { versions: 2, bytes: 3 * INLINE_MAX + 5 } })

  t.is(await store.drop(H, 'b', 'k', [{ actor: 'node-2.aaaa0000', counter: 99 }]), 0, 'unknown dots: nothing to drop')
  t.is(await store.drop(hint('node-8'), 'b', 'k', [v.dot]), 0, 'another target\'s space: nothing to drop')
  t.is(await store.drop({ kind: 'own' }, 'b', 'k', [v.dot]), 0, 'own space: nothing to drop')
  t.is(await blobs.countFiles(), 1)

  t.is(await store.drop(H, 'b', 'k', [v.dot]), 1)
  t.is(await blobs.countFiles(), 0, 'the dropped hint\'s blob file is removed')
  t.deepEqual(store.hintTotals(), { 'node-9': { versions: 1, bytes: 5 } })
  t.deepEqual(ids(store.versions('b', 'k', H)), [versionId(w.dot)])
  await t.throwsAsync(() => store.openData('b', 'k', versionId(v.dot), H), { instanceOf: NoSuchVersionError })
  t.is((await readAll(store.openData('b', 'k', versionId(w.dot), H))).toString(), 'small')

  t.is(await store.drop(H, 'b', 'k', [w.dot, v.dot]), 1)
  t.deepEqual(store.hintTotals(), {})
  t.deepEqual(store.versions('b', 'k', H), [])
  t.deepEqual(store.hintBatch('node-9', 10), [])
})

test('a hint past maxHintBytes throws HintStoreFullError and stores nothing', async (t) => {
  const LIMIT = 3 * INLINE_MAX
  const { store, blobs, dir } = await openStore(t, undefined, { maxHintBytes: LIMIT })
  const H = hint('node-9')
  const firstBody = await body(blobs, randomBytes(2 * INLINE_MAX))
  const first = foreignVersion('node-2.aaaa0000', 1, ctx(), firstBody)
  t.true((await store.replicate('b', 'k1', first, firstBody, H)).stored)
  t.is(await blobs.countFiles(), 1)
  const totals = store.hintTotals()
  t.deepEqual(totals, { 'node-9': { versions: 1, bytes: 2 * INLINE_MAX } })

  // A file-backed hint that would pass the limit: refused, its file removed, nothing recorded.
  const bigBody = await body(blobs, randomBytes(INLINE_MAX + 1))
  t.is(bigBody.kind, 'file')
  const big = foreignVersion('node-2.aaaa0000', 2, ctx(), bigBody)
  await t.throwsAsync(store.replicate('b', 'k2', big, bigBody, H), { instanceOf: HintStoreFullError })
  t.deepEqual(store.versions('b', 'k2', H), [])
  t.deepEqual(store.hintTotals(), totals)
  t.is(await blobs.countFiles(), 1, 'the refused hint\'s blob file is removed')
  t.deepEqual(await readdir(join(dir, 'tmp')), [])

  // The limit is over every target together; reaching it exactly is allowed, one byte more is not.
  const fill = await body(blobs, Buffer.alloc(LIMIT - 2 * INLINE_MAX, 7))
  t.true((await store.replicate('b', 'k3', foreignVersion('node-3.bbbb0000', 1, ctx(), fill), fill, hint('node-8'))).stored)
  const one = await body(blobs, 'x')
  await t.throwsAsync(store.replicate('b', 'k4', foreignVersion('node-3.bbbb0000', 2, ctx(), one), one, hint('node-7')), { instanceOf: HintStoreFullError })
  t.deepEqual(store.versions('b', 'k4', hint('node-7')), [])
  t.is(store.hintTotals()['node-7'], undefined)
  // A stand-in's coordinated write is refused the same way.
  await t.throwsAsync(store.coordinate('b', 'k5', {}, await body(blobs, 'y'), H), { instanceOf: HintStoreFullError })
  t.deepEqual(store.versions('b', 'k5', H), [])
  t.deepEqual(Object.keys(store.hintTotals()).sort(), ['node-8', 'node-9'])

  // Own data is not limited by it, and neither are (empty) hinted tombstones.
  const ownBody = await body(blobs, randomBytes(INLINE_MAX + 1))
  t.true((await store.replicate('b', 'k2', big, ownBody)).stored)
  t.true((await store.replicate('b', 'k6', foreignVersion('node-3.bbbb0000', 3, ctx(), null), null, H)).stored)

  // Handing hints off frees room.
  t.is(await store.drop(H, 'b', 'k1', [first.dot]), 1)
  const again = await body(blobs, randomBytes(INLINE_MAX + 1))
  t.true((await store.replicate('b', 'k2', big, again, H)).stored)
  t.deepEqual(ids(store.versions('b', 'k2', H)), [versionId(big.dot)])
})

test('past maxHints hinted versions (tombstones and empty objects count: they carry no bytes) a hint is refused with HintStoreFullError and nothing is stored', async (t) => {
  const { store, blobs } = await openStore(t, undefined, { maxHints: 3 })
  // Tombstones and empty objects for two targets: no byte bound would ever stop these.
  t.true((await store.replicate('b', 'k1', foreignVersion('node-2.aaaa0000', 1, ctx(), null), null, hint('node-9'))).stored)
  const empty = await body(blobs, '')
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
  // Own data is not bounded by it.
  t.true((await store.replicate('b', 'k4', foreignVersion('node-2.aaaa0000', 4, ctx(), null), null)).stored)
  // Handing one off makes room for one.
  t.is(await store.drop(hint('node-8'), 'b', 'k3', [{ actor: 'node-2.aaaa0000', counter: 3 }]), 1)
  t.true((await store.replicate('b', 'k6', foreignVersion('node-2.aaaa0000', 6, ctx(), null), null, hint('node-7'))).stored)
})

// ---------------------------------------------------------------------------------------------
// tombstone reaping

test('reapCandidates lists tombstone-only keys older than the cut-off; reap forgets only those', async (t) => {
  let now = NOW
  const { store, blobs } = await openStore(t, undefined, { now: () => now })
  await store.coordinate('b', 'dead', {}, await body(blobs, 'x'))
  now = NOW + 10
  const dead = await store.coordinate('b', 'dead', { tombstone: true }, null)
  now = NOW + 20
  const alive = await store.coordinate('b', 'alive', {}, await body(blobs, 'alive'))
  const mixedLive = await store.coordinate('b', 'mixed', { context: EMPTY_CONTEXT }, await body(blobs, 'm'))
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
  const revived = await store.coordinate('b', 'back', {}, await body(blobs, 'again'))
  t.deepEqual(candidates(NOW + 31), [])
  t.false(await store.reap('b', 'back', [tomb.version.dot, revived.version.dot]))
  now = NOW + 40
  await store.coordinate('b', 'back', { tombstone: true }, null)
  t.deepEqual(candidates(NOW + 31), [], 'the newest tombstone dates the key')
  t.deepEqual(candidates(NOW + 41), ['back'])
})

test('the segment index follows every change of the own data (and not of hints)', async (t) => {
  const { store, blobs } = await openStore(t)
  const seg = segmentOf('b', 'k')
  const entry = () => [...store.segmentEntries(seg)].find((e) => e.bucket === 'b' && e.key === 'k')
  t.is(entry(), undefined)
  const one = await store.coordinate('b', 'k', {}, await body(blobs, 'one'))
  t.is(entry()?.ids, versionId(one.version.dot))
  const two = await store.coordinate('b', 'k', { context: EMPTY_CONTEXT }, await body(blobs, 'two'))
  t.is(entry()?.ids, [versionId(one.version.dot), versionId(two.version.dot)].sort().join(' '), 'siblings: both ids, sorted')
  await store.coordinate('b', 'hinted', {}, await body(blobs, 'h'), { kind: 'hint', target: 'node-2' })
  t.false([...store.segmentEntries(segmentOf('b', 'hinted'))].some((e) => e.key === 'hinted'), 'hints are not indexed')
  const dead = await store.coordinate('b', 'k', { context: contextOf(store.versions('b', 'k')), tombstone: true }, null)
  t.is(entry()?.ids, versionId(dead.version.dot))
  t.true(await store.reap('b', 'k', [dead.version.dot]))
  t.is(entry(), undefined, 'a reaped key leaves the index')
  for (let s = 0; s < 256; s++) for (const e of store.segmentEntries(s)) t.is(segmentOf(e.bucket, e.key), s)
})

test('a store opened without a segment index (older data) builds it from its versions', async (t) => {
  const first = await openStore(t)
  const w = await first.store.coordinate('b', 'old', {}, await body(first.blobs, 'x'))
  // Simulate data written before the index existed: empty the index, reopen.
  const { open } = await import('lmdb')
  await first.close()
  const env = open({ path: join(first.dir, 'meta'), compression: false })
  await env.openDB({ name: 'segments' }).clearAsync()
  await env.close()
  const again = await openStore(t, first.dir)
  t.is([...again.store.segmentEntries(segmentOf('b', 'old'))].find((e) => e.key === 'old')?.ids, versionId(w.version.dot))
})

/** Info lines a store logs (the rest of a logger is not used by it). */
function infoLog(): { log: Logger; lines: string[] } {
  const lines: string[] = []
  const log = { info: (_obj: unknown, msg: string) => lines.push(msg), warn: () => {}, error: () => {} } as unknown as Logger
  return { log, lines }
}

/** Every entry of the segment index, as sorted `[bucket/key, ids]` pairs. */
const allEntries = (store: LmdbObjectStore): [string, string][] => {
  const out: [string, string][] = []
  for (let s = 0; s < 256; s++) for (const e of store.segmentEntries(s)) out.push([`${e.bucket}/${e.key}`, e.ids])
  return out.sort(([a], [b]) => (a < b ? -1 : 1))
}
const sortedPairs = (pairs: Iterable<[string, string]>): [string, string][] => [...pairs].sort(([a], [b]) => (a < b ? -1 : 1))

test('a store closed cleanly keeps its segment index: reopened, it is read from the table, not rebuilt', async (t) => {
  const first = await openStore(t)
  const written = new Map<string, string>()
  for (let i = 0; i < 30; i++) written.set(`b/k${i}`, versionId((await first.store.coordinate('b', `k${i}`, {}, await body(first.blobs, `v${i}`))).version.dot))
  await first.close()
  const { log, lines } = infoLog()
  const again = await openStore(t, first.dir, { log })
  t.deepEqual(lines.filter((l) => l.includes('segment index')), [])
  t.deepEqual(allEntries(again.store), sortedPairs(written))
})

const execFileAsync = promisify(execFile)
const crashWriter = fileURLToPath(new URL('../../helpers/crash-writer.ts', import.meta.url))

test('a store killed with its segment index changes in memory catches the index up from its log when reopened, without a rebuild', async (t) => {
  const dir = await mkdtemp(join(root, 'node-'))
  // The writer is killed by its own SIGKILL once it has printed what it wrote.
  const run = await execFileAsync(process.execPath, ['--import=tsx', crashWriter, dir, '20']).then(
    () => undefined,
    (err: { signal?: string; stdout?: string }) => err,
  )
  t.is(run?.signal, 'SIGKILL')
  const written = JSON.parse(run?.stdout ?? '{}') as Record<string, string>
  t.is(Object.keys(written).length, 40)
  t.true(written.k0?.endsWith('.2'), 'k0 was overwritten after the clean close')
  const { log, lines } = infoLog()
  const { store } = await openStore(t, dir, { log })
  t.true(lines.some((l) => l.includes('journal replayed')), `the last writes and the log's rows come back from the journal: ${lines.join('; ')}`)
  t.true(lines.some((l) => l.includes('caught up')), lines.join('; '))
  t.false(lines.some((l) => l.includes('rebuilt')), lines.join('; '))
  t.deepEqual(allEntries(store), sortedPairs(Object.entries(written).map(([k, id]): [string, string] => [`b/${k}`, id])))
  t.is(store.versions('b', 'k7').length, 1, 'the acknowledged writes themselves are there')
  t.teardown(() => rm(dir, { recursive: true, force: true }))
})

/** A store with keys b/k0..k(n-1) written and closed cleanly: its directory and each key's version id. */
async function closedStoreWith(t: ExecutionContext, n: number): Promise<{ dir: string; written: Map<string, string> }> {
  const first = await openStore(t)
  const written = new Map<string, string>()
  for (let i = 0; i < n; i++) written.set(`b/k${i}`, versionId((await first.store.coordinate('b', `k${i}`, {}, await body(first.blobs, `v${i}`))).version.dot))
  await first.close()
  return { dir: first.dir, written }
}

/** Edit a closed store's raw tables (to leave what a crash or an older version would). */
async function editTables(dir: string, edit: (env: RootDatabase) => void): Promise<void> {
  const { open } = await import('lmdb')
  const env = open({ path: join(dir, 'meta'), compression: false })
  edit(env)
  await env.close()
}

test('a store that crashed before its first index flush catches up from the log, though its index table is empty', async (t) => {
  const { dir, written } = await closedStoreWith(t, 5)
  // What such a crash leaves (after the journal's replay): records, the mark 'logged', an empty index table, a log naming the keys.
  await editTables(dir, (env) => {
    env.openDB<string, string>({ name: 'meta' }).putSync('segmentIndex', 'logged')
    env.openDB({ name: 'segments' }).clearSync()
    env.openDB<[string, string][], number>({ name: 'segment-log' }).putSync(0, [...written.keys()].map((k): [string, string] => ['b', k.slice(2)]))
  })
  const { log, lines } = infoLog()
  const again = await openStore(t, dir, { log })
  t.true(lines.some((l) => l.includes('caught up')), lines.join('; '))
  t.false(lines.some((l) => l.includes('built')), lines.join('; '))
  t.deepEqual(allEntries(again.store), sortedPairs(written))
})

test('an index left open by a version without the log is rebuilt from the records', async (t) => {
  const { dir, written } = await closedStoreWith(t, 10)
  // What such a version leaves after a crash: the mark 'open', rows missing, nothing in the log.
  await editTables(dir, (env) => {
    env.openDB<string, string>({ name: 'meta' }).putSync('segmentIndex', 'open')
    env.openDB({ name: 'segments' }).removeSync([segmentOf('b', 'k3'), 'b', 'k3'])
  })
  const { log, lines } = infoLog()
  const again = await openStore(t, dir, { log })
  t.true(lines.some((l) => l.includes('rebuilt')), lines.join('; '))
  t.deepEqual(allEntries(again.store), sortedPairs(written))
})

// ---------------------------------------------------------------------------------------------
// where small bytes live: embedded in their record, or in the inline table

/** The raw tables of a closed store's data directory (for checks a store does not expose). */
async function rawTables(dir: string) {
  const { open } = await import('lmdb')
  const env = open({ path: join(dir, 'meta'), compression: false })
  return {
    env,
    objects: env.openDB<{ versions: (Version & { bytes?: Uint8Array })[] }, [string, string]>({ name: 'objects' }),
    inlineCount: () => [...env.openDB<Buffer, string>({ name: 'inline', encoding: 'binary' }).getKeys({})].length,
  }
}

test('small bytes are embedded in their record, larger ones go to the inline table; both read back alike', async (t) => {
  for (const embedMaxBytes of [undefined, 16]) {
    const { store, blobs, dir, close } = await openStore(t, undefined, { embedMaxBytes })
    const small = randomBytes(10)
    const bigger = randomBytes(INLINE_MAX)
    const a = await store.coordinate('b', 'small', {}, await body(blobs, small))
    const b = await store.coordinate('b', 'bigger', {}, await body(blobs, bigger))
    t.deepEqual(await readAll(store.openData('b', 'small', versionId(a.version.dot))), small)
    t.deepEqual((await store.versionsWithData('b', 'bigger', OWN, MAX_OBJECT)).data, bigger)
    t.deepEqual((await store.versionsWithData('b', 'small', OWN, MAX_OBJECT)).data, small)
    t.false('bytes' in ((await store.versionsWithData('b', 'small', OWN, MAX_OBJECT)).versions[0] as object), 'bytes never leave in a version')
    t.false(JSON.stringify(store.list('b', { prefix: '', limit: 10 })).includes('bytes'))
    await close()
    const raw = await rawTables(dir)
    t.is(raw.inlineCount(), embedMaxBytes === undefined ? 0 : 1, `embedMaxBytes ${embedMaxBytes}: only bytes above it are in the inline table`)
    t.not(raw.objects.get(['b', 'small'])?.versions[0]?.bytes, undefined, '10 bytes are embedded either way')
    t.is(raw.objects.get(['b', 'bigger'])?.versions[0]?.bytes !== undefined, embedMaxBytes === undefined)
    await raw.env.close()
    t.true(b.stored)
  }
})

test('bytes written before embedding (in the inline table) are read, replaced and dropped as before', async (t) => {
  const old = await openStore(t, undefined, { embedMaxBytes: 0 })
  const bytes = Buffer.from('written by an older version')
  const w = await old.store.coordinate('b', 'k', {}, await body(old.blobs, bytes))
  const hint = await old.store.coordinate('b', 'h', {}, await body(old.blobs, 'hinted'), { kind: 'hint', target: 'node-2' })
  await old.close()
  const before = await rawTables(old.dir)
  t.is(before.inlineCount(), 2, 'embedMaxBytes 0 writes the older layout: bytes in the inline table')
  t.is(before.env.openDB<number, string>({ name: 'meta' }).get('layout'), undefined, 'and leaves the layout unmarked (1)')
  await before.env.close()
  const now = await openStore(t, old.dir)
  t.deepEqual((await now.store.versionsWithData('b', 'k', OWN, MAX_OBJECT)).data, bytes)
  t.deepEqual(await readAll(now.store.openData('b', 'h', versionId(hint.version.dot), { kind: 'hint', target: 'node-2' })), Buffer.from('hinted'))
  const next = await now.store.coordinate('b', 'k', { context: contextOf([w.version]) }, await body(now.blobs, 'new'))
  t.is(await now.store.drop({ kind: 'hint', target: 'node-2' }, 'b', 'h', [hint.version.dot]), 1)
  t.deepEqual((await now.store.versionsWithData('b', 'k', OWN, MAX_OBJECT)).data, Buffer.from('new'))
  t.deepEqual(ids(now.store.versions('b', 'k')), [versionId(next.version.dot)])
  await now.close()
  const raw = await rawTables(old.dir)
  t.is(raw.inlineCount(), 0, 'the superseded and the handed-off bytes left the inline table')
  await raw.env.close()
})

test('small bytes that no longer match their SHA-256 are never served: the copy is quarantined', async (t) => {
  for (const embedMaxBytes of [undefined, 0]) {
    const first = await openStore(t, undefined, { embedMaxBytes })
    const w = await first.store.coordinate('b', 'k', {}, await body(first.blobs, 'precious bytes'))
    const kept = await first.store.coordinate('b', 'other', {}, await body(first.blobs, 'untouched'))
    await first.close()
    const raw = await rawTables(first.dir)
    if (embedMaxBytes === undefined) {
      const rec = raw.objects.get(['b', 'k'])
      const v = rec?.versions[0]
      if (!rec || !v?.bytes) return t.fail('expected embedded bytes')
      const rotten = Buffer.from(v.bytes)
      rotten[0] = (rotten[0] ?? 0) ^ 0xff
      await raw.objects.put(['b', 'k'], { ...rec, versions: [{ ...v, bytes: rotten }] })
    } else {
      const table = raw.env.openDB<Buffer, string>({ name: 'inline', encoding: 'binary' })
      const at = `b\u0000k\u0000${versionId(w.version.dot)}`
      await table.put(at, Buffer.from('rotten bytes!!'))
    }
    await raw.env.close()
    const again = await openStore(t, first.dir)
    const answer = await again.store.versionsWithData('b', 'k', OWN, MAX_OBJECT)
    t.is(answer.data, undefined, `embedMaxBytes ${embedMaxBytes}: no bytes served`)
    t.deepEqual(answer.versions, [], 'the corrupt version left the set, so a read repairs this replica')
    await t.throwsAsync(async () => readAll(again.store.openData('b', 'k', versionId(w.version.dot))), { instanceOf: NoSuchVersionError })
    t.deepEqual((await again.store.versionsWithData('b', 'other', OWN, MAX_OBJECT)).data, Buffer.from('untouched'))
    t.true(kept.stored)
    await again.close()
  }
})

test('a data directory is marked with its layout; one of a newer layout is refused, not read', async (t) => {
  const first = await openStore(t)
  await first.store.coordinate('b', 'k', {}, await body(first.blobs, 'x'))
  await first.close()
  const raw = await rawTables(first.dir)
  const meta = raw.env.openDB<number, string>({ name: 'meta' })
  t.is(meta.get('layout'), STORE_LAYOUT)
  await meta.put('layout', STORE_LAYOUT + 1)
  await raw.env.close()
  await t.throwsAsync(async () => openStore(t, first.dir), { instanceOf: UnsupportedLayoutError, message: /layout 3/ })
})

test('versionsWithData leaves out bytes above maxBytes, and no result of the store carries bytes', async (t) => {
  const { store, blobs } = await openStore(t)
  const w = await store.coordinate('b', 'k', {}, await body(blobs, randomBytes(600)))
  t.deepEqual(Object.keys(await store.versionsWithData('b', 'k', OWN, 100)), ['versions'])
  t.is((await store.versionsWithData('b', 'k', OWN, 600)).data?.length, 600)
  const hinted = await store.coordinate('b', 'h', {}, await body(blobs, 'hinted'), { kind: 'hint', target: 'node-2' })
  const replicated = await store.replicate('b', 'r', foreignVersion('node-3.cafe0001', 1, EMPTY_CONTEXT, await body(blobs, 'from node 3')), await body(blobs, 'from node 3'))
  t.true(replicated.stored)
  t.deepEqual((await store.versionsWithData('b', 'r', OWN, 100)).data, Buffer.from('from node 3'), 'replicated bytes are embedded and read back')
  const everything = JSON.stringify([w, hinted, replicated, store.versions('b', 'k'), store.versions('b', 'h', { kind: 'hint', target: 'node-2' }), store.hintBatch('node-2', 10), store.list('b', { prefix: '', limit: 10 })])
  t.false(everything.includes('"bytes"'))
})

// ---------------------------------------------------------------------------------------------
// orphaned blob files

test('sweepOrphans keeps a candidate whose version is committed again during the sweep (re-sent after the crash)', async (t) => {
  const { blobs, dir } = await openStore(t)
  // The orphan a kill between rename and commit left: the file of version v-1.
  const name = createHash('sha256').update('v-1').digest('hex')
  await writeFile(join(dir, 'blobs', name.slice(0, 2), name), 'half-committed')
  const listed = await blobs.listFiles()
  t.deepEqual(listed, [name])
  const resent = randomBytes(INLINE_MAX + 3)
  // Read repair commits v-1 while the sweep scans the store (the scan saw no reference to it).
  const referenced = async () => {
    const received = await blobs.fromBuffer(resent)
    if (received.kind !== 'file') throw new Error('expected a file body')
    t.is(await blobs.commit(received, 'v-1'), name)
    return new Set<string>()
  }
  t.is(await blobs.sweepOrphans(listed, referenced), 0)
  t.deepEqual(await readFile(join(dir, 'blobs', name.slice(0, 2), name)), resent)
})

test('referencedBlobs reads the records slice by slice and finds every file, data and hints', async (t) => {
  const { store, blobs } = await openStore(t)
  for (let i = 0; i < 23; i++) await store.coordinate('b', `k${i}`, {}, await body(blobs, i % 4 === 0 ? randomBytes(INLINE_MAX + 1) : `small ${i}`))
  await store.coordinate('b2', 'k', {}, await body(blobs, randomBytes(INLINE_MAX + 5)))
  await store.coordinate('b', 'hinted', {}, await body(blobs, randomBytes(INLINE_MAX + 2)), { kind: 'hint', target: 'node-2' })
  const all = await store.referencedBlobs()
  t.is(all.size, 8, '6 + 1 data files and 1 hinted file')
  t.is(await blobs.countFiles(), 8)
  for (const slice of [1, 2, 3, 7]) t.deepEqual([...(await store.referencedBlobs(slice))].sort(), [...all].sort(), `slices of ${slice}`)
})

test('sweepOrphans removes the listed files no version refers to, never one written after the listing', async (t) => {
  const { store, blobs, dir } = await openStore(t)
  const kept = await store.coordinate('b', 'kept', {}, await body(blobs, randomBytes(INLINE_MAX + 1)))
  const hinted = await store.coordinate('b', 'h', {}, await body(blobs, randomBytes(INLINE_MAX + 1)), { kind: 'hint', target: 'node-2' })
  await writeFile(join(dir, 'blobs', 'ab', 'ab0rphan0f0a0crash'), 'x')
  let scans = 0
  const referenced = () => {
    scans++
    return store.referencedBlobs()
  }
  t.is(await blobs.sweepOrphans([], referenced), 0)
  t.is(scans, 0, 'no candidate: no scan of the store')
  const listed = await blobs.listFiles()
  t.is(listed.length, 3)
  // Renamed into place after the listing (its commit still in flight): not a candidate.
  await writeFile(join(dir, 'blobs', 'cd', 'cd1n0f1ight'), 'y')
  t.is(await blobs.sweepOrphans(listed, referenced), 1)
  t.is(scans, 1)
  t.deepEqual((await blobs.listFiles()).sort(), listed.filter((n) => n !== 'ab0rphan0f0a0crash').concat('cd1n0f1ight').sort())
  t.is((await readAll(store.openData('b', 'kept', versionId(kept.version.dot)))).length, INLINE_MAX + 1, 'referenced files are read back whole')
  t.is((await readAll(store.openData('b', 'h', versionId(hinted.version.dot), { kind: 'hint', target: 'node-2' }))).length, INLINE_MAX + 1)
})
