import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import test, { type ExecutionContext } from 'ava'
import type { RootDatabase } from 'lmdb'
import { HintStoreFullError, NoSuchVersionError, TooManySiblingsError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import { contextOf, EMPTY_CONTEXT, versionId } from '../../../shared/vclock/versions.js'
import type { Version } from '../../../shared/wire/internal-api.js'
import { BlobFiles, type ReceivedBody } from '../../../storage-node/store/blobs/blob-files.js'
import { STORE_LAYOUT, UnsupportedLayoutError } from '../../../storage-node/store/layout.js'
import { LmdbObjectStore, type LmdbObjectStoreInit } from '../../../storage-node/store/lmdb-object-store.js'
import type { Space } from '../../../storage-node/store/object-store.js'
import { segmentOf } from '../../../storage-node/store/segment-index.js'
import { ctx, foreignVersion, hint, ids, NOW, readAll } from '../../helpers/store-fixtures.js'

const INLINE_MAX = 1024
const MAX_OBJECT = 64 * 1024
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
// where the bytes of a version go: blob files (the write rules are in test/contract/object-store.contract.ts)

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
// limits, and the files of what they refuse

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
  t.is(await blobs.countFiles(), 1, "the refused version's blob file is removed")
  t.deepEqual(await readdir(join(dir, 'tmp')), [])
  // A tombstone adds no live sibling, and a write over the context of all resolves them.
  t.true((await store.coordinate('b', 'k', { context: stale, tombstone: true }, null)).stored)
  t.is(store.versions('b', 'k').length, 3)
  const resolved = await store.coordinate('b', 'k', { context: contextOf(store.versions('b', 'k')) }, await body(blobs, 'resolved'))
  t.deepEqual(ids(store.versions('b', 'k')), [versionId(resolved.version.dot)])
  t.is(await blobs.countFiles(), 0)
})

// The rules of drop are in the contract suite; what only this store has is the file behind a large hint.
test("drop removes a file-backed hint's blob file, and only the dropped one", async (t) => {
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
  t.is(await store.drop(hint('node-8'), 'b', 'k', [v.dot]), 0, "another target's space: nothing to drop")
  t.is(await blobs.countFiles(), 1)
  t.is(await store.drop(H, 'b', 'k', [v.dot]), 1)
  t.is(await blobs.countFiles(), 0, "the dropped hint's blob file is removed")
  t.is((await readAll(store.openData('b', 'k', versionId(w.dot), H))).toString(), 'small')
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
  t.is(await blobs.countFiles(), 1, "the refused hint's blob file is removed")
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

// ---------------------------------------------------------------------------------------------
// the segment index across restarts

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
  t.deepEqual(
    lines.filter((l) => l.includes('segment index')),
    [],
  )
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
  t.true(
    lines.some((l) => l.includes('journal replayed')),
    `the last writes and the log's rows come back from the journal: ${lines.join('; ')}`,
  )
  t.true(
    lines.some((l) => l.includes('caught up')),
    lines.join('; '),
  )
  t.false(
    lines.some((l) => l.includes('rebuilt')),
    lines.join('; '),
  )
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
    env.openDB<[string, string][], number>({ name: 'segment-log' }).putSync(
      0,
      [...written.keys()].map((k): [string, string] => ['b', k.slice(2)]),
    )
  })
  const { log, lines } = infoLog()
  const again = await openStore(t, dir, { log })
  t.true(
    lines.some((l) => l.includes('caught up')),
    lines.join('; '),
  )
  t.false(
    lines.some((l) => l.includes('built')),
    lines.join('; '),
  )
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
  t.true(
    lines.some((l) => l.includes('rebuilt')),
    lines.join('; '),
  )
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

// ---------------------------------------------------------------------------------------------
// orphaned blob files

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
  t.deepEqual(
    (await blobs.listFiles()).sort(),
    listed
      .filter((n) => n !== 'ab0rphan0f0a0crash')
      .concat('cd1n0f1ight')
      .sort(),
  )
  t.is((await readAll(store.openData('b', 'kept', versionId(kept.version.dot)))).length, INLINE_MAX + 1, 'referenced files are read back whole')
  t.is((await readAll(store.openData('b', 'h', versionId(hinted.version.dot), { kind: 'hint', target: 'node-2' }))).length, INLINE_MAX + 1)
})
