import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { open, type RootDatabase } from 'lmdb'
import { GroupCommit, type JournaledTable, StoreFailedError } from '../../../storage-node/store/group-commit.js'
import { mulberry32 as rng } from '../../helpers/prng.js'
import { compareUtf8, type IndexKey, SEGMENTS, SegmentIndex, segmentOf } from '../../../storage-node/store/segment-index.js'

/** LMDB in a temp dir, a group commit over it and the index's journaled table (written directly while no group holds a transaction). */
async function openRoot(t: ExecutionContext): Promise<{ root: RootDatabase; group: GroupCommit; table: JournaledTable<string, IndexKey> }> {
  const dir = await mkdtemp(join(tmpdir(), 'segment-index-'))
  const root = open({ path: dir, compression: false })
  const group = new GroupCommit(root, { journalPath: join(dir, 'journal'), sync: true, journalExtentBytes: 0 })
  const table = group.table('segments', root.openDB<string, IndexKey>({ name: 'segments' }))
  group.recover()
  t.teardown(async () => {
    await group.close()
    await root.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { root, group, table }
}

const ids = (...counters: number[]) => counters.map((c) => ({ dot: { actor: 'n~1', counter: c } }))
const idText = (...counters: number[]) => counters.map((c) => `n~1.${c}`).sort().join(' ')

/** Every entry of every segment in the order the index lists them. */
function listing(index: SegmentIndex): string[] {
  const out: string[] = []
  for (let s = 0; s < SEGMENTS; s++) for (const e of index.entries(s)) out.push(`${s}/${e.bucket}/${e.key}=${e.ids}`)
  return out
}

/** Every entry of every segment, as `bucket/key -> ids` (in key order, for comparison). */
function everything(index: SegmentIndex): Map<string, string> {
  const out = new Map<string, string>()
  for (let s = 0; s < SEGMENTS; s++) {
    let last = ''
    for (const e of index.entries(s)) {
      const k = `${e.bucket}/${e.key}`
      if (segmentOf(e.bucket, e.key) !== s) throw new Error(`${k} listed in segment ${s}`)
      if (last && compareUtf8(k, last) <= 0) throw new Error(`segment ${s} is not in key order at ${k}`)
      last = k
      out.set(k, e.ids)
    }
  }
  return sorted(out)
}

const sorted = (m: Map<string, string>): Map<string, string> => new Map([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))

test('a committed change is read back at once, before and after it reaches the table', async (t) => {
  const { root, table } = await openRoot(t)
  {
    const index = new SegmentIndex(table)
    root.transactionSync(() => index.record('b', 'k', ids(2, 1)))
    index.committed()
    t.is(index.unflushed, 1)
    t.deepEqual([...index.entries(segmentOf('b', 'k'))], [{ bucket: 'b', key: 'k', ids: idText(1, 2) }])
    root.transactionSync(() => t.is(index.flushSlice(10), 1))
    index.committed()
    t.is(index.unflushed, 0)
    t.deepEqual([...index.entries(segmentOf('b', 'k'))], [{ bucket: 'b', key: 'k', ids: idText(1, 2) }])
    // A second index object over the same table (a reopened store) finds it there.
    t.deepEqual([...new SegmentIndex(table).entries(segmentOf('b', 'k'))], [{ bucket: 'b', key: 'k', ids: idText(1, 2) }])
    root.transactionSync(() => index.record('b', 'k', []))
    index.committed()
    t.deepEqual([...index.entries(segmentOf('b', 'k'))], [], 'a pending removal hides the flushed entry')
    root.transactionSync(() => index.flushSlice(10))
    index.committed()
    t.deepEqual([...new SegmentIndex(table).entries(segmentOf('b', 'k'))], [])
  }
})

test('what an aborted transaction recorded never counts; what it flushed stays pending', async (t) => {
  const { root, table } = await openRoot(t)
  const index = new SegmentIndex(table)
  root.transactionSync(() => index.record('b', 'kept', ids(1)))
  index.committed()
  t.throws(() =>
    root.transactionSync(() => {
      index.flushSlice(10)
      index.record('b', 'lost', ids(1))
      throw new Error('disk full')
    }),
  )
  index.aborted()
  t.is(index.unflushed, 1)
  t.deepEqual(everything(index), new Map([['b/kept', idText(1)]]))
  t.deepEqual(everything(new SegmentIndex(table)), new Map(), 'the table holds nothing of the aborted flush')
})

test('a group commit tells the index how each group ended', async (t) => {
  const { group, table } = await openRoot(t)
  const index = new SegmentIndex(table)
  group.listener = index
  await Promise.all([group.run(() => index.record('b', 'x', ids(1))), group.run(() => index.record('b', 'y', ids(3)))])
  t.deepEqual(everything(index), new Map([['b/x', idText(1)], ['b/y', idText(3)]]))
  await group.run(() => index.flushSlice(1))
  t.is(index.unflushed, 1)
  await group.close()
  await t.throwsAsync(group.run(() => index.record('b', 'z', ids(1))), { message: /closed/ })
  t.deepEqual(everything(index), new Map([['b/x', idText(1)], ['b/y', idText(3)]]))
})

test('a group whose journal record cannot be written rejects every write in it, stores none of them, and the index drops what they recorded', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'segment-index-'))
  const root = open({ path: dir, compression: false })
  t.teardown(async () => {
    await root.close()
    await rm(dir, { recursive: true, force: true })
  })
  // /dev/full refuses every write (ENOSPC): the journal fails on the first group's record.
  const group = new GroupCommit(root, { journalPath: '/dev/full', journalExtentBytes: 0, sync: true })
  const rows = group.table('rows', root.openDB<string, string>({ name: 'rows' }))
  const index = new SegmentIndex(group.table('segments', root.openDB<string, IndexKey>({ name: 'segments' })))
  group.listener = index
  group.recover()
  const write = (key: string) =>
    group.run(() => {
      rows.put(key, key)
      index.record('b', key, ids(1))
      return key
    })
  const lost = await Promise.allSettled([write('y'), write('z')])
  t.true(lost.every((o) => o.status === 'rejected' && o.reason instanceof StoreFailedError && /ENOSPC/.test(String(o.reason))))
  t.is(rows.get('y'), undefined)
  t.is(rows.get('z'), undefined)
  t.deepEqual(everything(index), new Map())
  await t.throwsAsync(write('w'), { instanceOf: StoreFailedError }, 'the store stays failed: what reached the disk is unknown')
  await group.close()
})

test('property: after any run of writes, slice flushes and aborted transactions, reads equal the committed state', async (t) => {
  for (let seed = 1; seed <= 25; seed++) {
    const { root, table } = await openRoot(t)
    const index = new SegmentIndex(table)
    const random = rng(seed)
    const model = new Map<string, string>()
    // Keys beyond ASCII too: U+E000-U+FFFF and above U+FFFF order differently in UTF-16 and UTF-8.
    const tails = ['', '\uff01', '\u{1f600}', '\u00e9', '\ue000x']
    const keys = Array.from({ length: 40 }, (_, i) => ({ bucket: i % 3 === 0 ? 'a' : 'b', key: `k${i % 8}${tails[i % tails.length]}` }))
    for (let step = 0; step < 120; step++) {
      const changes = Array.from({ length: 1 + Math.floor(random() * 6) }, () => {
        const k = keys[Math.floor(random() * keys.length)] as (typeof keys)[number]
        const counters = random() < 0.2 ? [] : Array.from({ length: 1 + Math.floor(random() * 3) }, () => 1 + Math.floor(random() * 9))
        return { ...k, counters }
      })
      const slice = random() < 0.4 ? Math.floor(random() * 8) : 0
      const abort = random() < 0.15
      const tx = () =>
        root.transactionSync(() => {
          if (slice > 0) index.flushSlice(slice)
          for (const c of changes) index.record(c.bucket, c.key, ids(...c.counters))
          if (abort) throw new Error('aborted')
        })
      if (abort) {
        t.throws(tx)
        index.aborted()
      } else {
        tx()
        index.committed()
        for (const c of changes) {
          if (c.counters.length === 0) model.delete(`${c.bucket}/${c.key}`)
          else model.set(`${c.bucket}/${c.key}`, idText(...c.counters))
        }
      }
      t.deepEqual(everything(index), sorted(model), `seed ${seed}, step ${step}`)
    }
    const merged = listing(index)
    root.transactionSync(() => index.flushSlice(Number.POSITIVE_INFINITY))
    index.committed()
    t.is(index.unflushed, 0)
    t.deepEqual(listing(new SegmentIndex(table)), merged, `seed ${seed}: the table lists in the order the merged reads did`)
    t.deepEqual(everything(new SegmentIndex(table)), sorted(model), `seed ${seed}: the table alone, after a full flush`)
  }
})

test('rebuild replaces the table and what was pending with the records given', async (t) => {
  const { root, table } = await openRoot(t)
  const index = new SegmentIndex(table)
  root.transactionSync(() => {
    index.record('b', 'stale', ids(1))
    index.flushSlice(10)
  })
  index.committed()
  root.transactionSync(() => index.record('b', 'pending', ids(1)))
  index.committed()
  root.transactionSync(() => t.is(index.rebuild([{ bucket: 'b', key: 'x', versions: ids(4) }, { bucket: 'b', key: 'gone', versions: [] }]), 1))
  index.committed()
  t.is(index.unflushed, 0)
  t.deepEqual(everything(index), new Map([['b/x', idText(4)]]))
  t.false(index.isEmpty())
})

test('compareUtf8 orders strings as their UTF-8 bytes (LMDB\'s key order), unlike plain <', (t) => {
  t.true('\uff01' > '\u{1f600}', 'UTF-16 code units put the emoji first')
  t.true(compareUtf8('\uff01', '\u{1f600}') < 0)
  const random = rng(7)
  const pool = ['a', 'z', '\u00e9', '\u0800', '\ud7ff', '\ue000', '\uffff', '\u{10000}', '\u{1f600}', '\u{10ffff}']
  for (let i = 0; i < 2000; i++) {
    const word = () => Array.from({ length: Math.floor(random() * 4) }, () => pool[Math.floor(random() * pool.length)]).join('')
    const [a, b] = [word(), word()]
    t.is(Math.sign(compareUtf8(a, b)), Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`)
  }
})

test('flushKeys writes only the keys it is given that are still pending', async (t) => {
  const { root, table } = await openRoot(t)
  const index = new SegmentIndex(table)
  root.transactionSync(() => {
    for (const k of ['x', 'y', 'z']) index.record('b', k, ids(1))
  })
  index.committed()
  const snapshot = index.pendingKeys()
  t.is(snapshot.length, 3)
  root.transactionSync(() => index.record('b', 'late', ids(2)))
  index.committed()
  root.transactionSync(() => t.is(index.flushKeys(snapshot), 3))
  index.committed()
  t.is(index.unflushed, 1, 'the change that came after the snapshot waits for the next flush')
  root.transactionSync(() => t.is(index.flushKeys(snapshot), 0, 'nothing of the snapshot is left'))
  index.committed()
  t.deepEqual(everything(index), new Map([['b/late', idText(2)], ['b/x', idText(1)], ['b/y', idText(1)], ['b/z', idText(1)]]))
})

test('a segment lists keys beyond ASCII in the table\'s order whether or not their changes are pending', async (t) => {
  // Two keys of one segment whose order differs between UTF-16 code units and UTF-8 bytes.
  let pair: [string, string] | undefined
  for (let i = 0; i < 64 && !pair; i++) {
    for (let j = 0; j < 64 && !pair; j++) {
      const [a, b] = [`k\uff01${i}`, `k\u{1f600}${j}`]
      if (segmentOf('b', a) === segmentOf('b', b)) pair = [a, b]
    }
  }
  if (!pair) return t.fail('no pair of keys in one segment found')
  const [bmp, astral] = pair
  const seg = segmentOf('b', bmp)
  const { root, table } = await openRoot(t)
  const index = new SegmentIndex(table)
  root.transactionSync(() => {
    index.record('b', astral, ids(1))
    index.flushSlice(10)
  })
  index.committed()
  root.transactionSync(() => index.record('b', bmp, ids(2)))
  index.committed()
  const merged = [...index.entries(seg)].map((e) => e.key)
  root.transactionSync(() => index.flushSlice(10))
  index.committed()
  const fromTable = [...index.entries(seg)].map((e) => e.key)
  t.deepEqual(fromTable, [bmp, astral], 'LMDB orders by UTF-8 bytes')
  t.deepEqual(merged, fromTable)
})
