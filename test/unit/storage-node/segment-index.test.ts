import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { open, type RootDatabase } from 'lmdb'
import { GroupCommit, StoreFailedError } from '../../../storage-node/store/engine/group-commit.js'
import type { JournaledTable } from '../../../storage-node/store/engine/journaled-table.js'
import { mulberry32 as rng } from '../../../devtools/prng.js'
import { compareUtf8, type IndexKey, type LoggedKey, SEGMENTS, SegmentIndex, segmentOf } from '../../../storage-node/store/segment-index.js'

type Tables = { table: JournaledTable<string, IndexKey>; log: JournaledTable<LoggedKey[], number> }

/** LMDB in a temp dir, a group commit over it and the index's journaled tables (written directly while no group holds a transaction). */
async function openRoot(t: ExecutionContext): Promise<{ root: RootDatabase; group: GroupCommit; tables: Tables }> {
  const dir = await mkdtemp(join(tmpdir(), 'segment-index-'))
  const root = open({ path: dir, compression: false })
  const group = new GroupCommit(root, { journalPath: join(dir, 'journal'), sync: true, journalExtentBytes: 0 })
  const tables = {
    table: group.table('segments', root.openDB<string, IndexKey>({ name: 'segments' })),
    log: group.table('segment-log', root.openDB<LoggedKey[], number>({ name: 'segment-log' })),
  }
  group.recover()
  t.teardown(async () => {
    await group.close()
    await root.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { root, group, tables }
}

const indexOver = (tables: Tables) => new SegmentIndex(tables.table, tables.log)

/** One write transaction over the index, sealed at its end as a group commit seals each group. */
function txn<T>(root: RootDatabase, index: SegmentIndex, fn: () => T): T {
  return root.transactionSync(() => {
    const result = fn()
    index.seal()
    return result
  })
}

class RollBack extends Error {}

/** The versions a committed-state model holds for a key (its ids parsed back into dots). */
const versionsIn = (model: Map<string, string>) => (bucket: string, key: string) =>
  (model.get(`${bucket}/${key}`)?.split(' ') ?? []).map((id) => ({ dot: { actor: id.slice(0, id.lastIndexOf('.')), counter: Number(id.slice(id.lastIndexOf('.') + 1)) } }))

/**
 * What a store that crashed now would list once caught up: a fresh index over the tables (what was
 * pending in memory is lost) runs the real catchUp, with the committed state `model` as the
 * records, inside a transaction that is then rolled back.
 */
function afterCatchUp(root: RootDatabase, tables: Tables, model: Map<string, string>): Map<string, string> {
  let seen = new Map<string, string>()
  try {
    root.transactionSync(() => {
      const fresh = indexOver(tables)
      fresh.catchUp(versionsIn(model))
      seen = everything(fresh)
      throw new RollBack()
    })
  } catch (err) {
    if (!(err instanceof RollBack)) throw err
  }
  return seen
}

const ids = (...counters: number[]) => counters.map((c) => ({ dot: { actor: 'n~1', counter: c } }))
const idText = (...counters: number[]) =>
  counters
    .map((c) => `n~1.${c}`)
    .sort()
    .join(' ')

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
  const { root, tables } = await openRoot(t)
  {
    const index = indexOver(tables)
    txn(root, index, () => index.record('b', 'k', ids(2, 1)))
    index.committed()
    t.is(index.unflushed, 1)
    t.deepEqual([...index.entries(segmentOf('b', 'k'))], [{ bucket: 'b', key: 'k', ids: idText(1, 2) }])
    txn(root, index, () => t.is(index.flushSlice(10), 1))
    index.committed()
    t.is(index.unflushed, 0)
    t.deepEqual([...index.entries(segmentOf('b', 'k'))], [{ bucket: 'b', key: 'k', ids: idText(1, 2) }])
    // A second index object over the same table (a reopened store) finds it there.
    t.deepEqual([...indexOver(tables).entries(segmentOf('b', 'k'))], [{ bucket: 'b', key: 'k', ids: idText(1, 2) }])
    txn(root, index, () => index.record('b', 'k', []))
    index.committed()
    t.deepEqual([...index.entries(segmentOf('b', 'k'))], [], 'a pending removal hides the flushed entry')
    txn(root, index, () => index.flushSlice(10))
    index.committed()
    t.deepEqual([...indexOver(tables).entries(segmentOf('b', 'k'))], [])
  }
})

test('what an aborted transaction recorded never counts; what it flushed stays pending', async (t) => {
  const { root, tables } = await openRoot(t)
  const index = indexOver(tables)
  txn(root, index, () => index.record('b', 'kept', ids(1)))
  index.committed()
  t.throws(() =>
    txn(root, index, () => {
      index.flushSlice(10)
      index.record('b', 'lost', ids(1))
      throw new Error('disk full')
    }),
  )
  index.aborted()
  t.is(index.unflushed, 1)
  t.deepEqual(everything(index), new Map([['b/kept', idText(1)]]))
  t.deepEqual(everything(indexOver(tables)), new Map(), 'the table holds nothing of the aborted flush')
})

test('a group commit tells the index how each group ended', async (t) => {
  const { group, tables } = await openRoot(t)
  const index = indexOver(tables)
  group.listener = index
  await Promise.all([group.run(() => index.record('b', 'x', ids(1))), group.run(() => index.record('b', 'y', ids(3)))])
  t.deepEqual(
    everything(index),
    new Map([
      ['b/x', idText(1)],
      ['b/y', idText(3)],
    ]),
  )
  await group.run(() => index.flushSlice(1))
  t.is(index.unflushed, 1)
  await group.close()
  await t.throwsAsync(
    group.run(() => index.record('b', 'z', ids(1))),
    { message: /closed/ },
  )
  t.deepEqual(
    everything(index),
    new Map([
      ['b/x', idText(1)],
      ['b/y', idText(3)],
    ]),
  )
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
  const index = indexOver({
    table: group.table('segments', root.openDB<string, IndexKey>({ name: 'segments' })),
    log: group.table('segment-log', root.openDB<LoggedKey[], number>({ name: 'segment-log' })),
  })
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

test('property: after any run of writes, slice flushes and aborted transactions, reads equal the committed state, and so would a catch-up after a crash', async (t) => {
  for (let seed = 1; seed <= 25; seed++) {
    const { root, tables } = await openRoot(t)
    const index = indexOver(tables)
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
      const flushFirst = random() < 0.5
      // A group can fail before its row is written, or after (its journal record not written).
      const abort = random() < 0.15 ? (random() < 0.5 ? 'before seal' : 'after seal') : undefined
      const tx = () =>
        root.transactionSync(() => {
          if (flushFirst && slice > 0) index.flushSlice(slice)
          for (const c of changes) index.record(c.bucket, c.key, ids(...c.counters))
          if (!flushFirst && slice > 0) index.flushSlice(slice)
          if (abort === 'before seal') throw new Error('aborted')
          index.seal()
          if (abort === 'after seal') throw new Error('aborted')
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
      t.deepEqual(afterCatchUp(root, tables, model), sorted(model), `seed ${seed}, step ${step}: the table and the log`)
    }
    const merged = listing(index)
    txn(root, index, () => index.flushSlice(Number.POSITIVE_INFINITY))
    index.committed()
    t.is(index.unflushed, 0)
    t.is(index.logged, 0, `seed ${seed}: a full flush leaves nothing in the log`)
    t.deepEqual(listing(indexOver(tables)), merged, `seed ${seed}: the table lists in the order the merged reads did`)
    t.deepEqual(everything(indexOver(tables)), sorted(model), `seed ${seed}: the table alone, after a full flush`)
  }
})

test('rebuild replaces the table and what was pending with the records given', async (t) => {
  const { root, tables } = await openRoot(t)
  const index = indexOver(tables)
  txn(root, index, () => {
    index.record('b', 'stale', ids(1))
    index.flushSlice(10)
  })
  index.committed()
  txn(root, index, () => index.record('b', 'pending', ids(1)))
  index.committed()
  txn(root, index, () =>
    t.is(
      index.rebuild([
        { bucket: 'b', key: 'x', versions: ids(4) },
        { bucket: 'b', key: 'gone', versions: [] },
      ]),
      1,
    ),
  )
  index.committed()
  t.is(index.unflushed, 0)
  t.deepEqual(everything(index), new Map([['b/x', idText(4)]]))
  t.false(index.isEmpty())
  t.is(index.logged, 0, 'the records are the truth: the log is emptied')
})

test('after a crash, catchUp rewrites the rows of the keys the log names from their records, and empties the log', async (t) => {
  const { root, tables } = await openRoot(t)
  const before = indexOver(tables)
  const at = (key: string): IndexKey => [segmentOf('b', key), 'b', key]
  const group = (fn: () => unknown) => {
    txn(root, before, fn)
    before.committed()
  }
  group(() => before.record('b', 'alone', ids(1)))
  group(() => {
    before.record('b', 'flushed', ids(1))
    before.record('b', 'changed', ids(1))
    before.record('b', 'removed', ids(1))
  })
  group(() => before.flushKeys([at('alone'), at('flushed'), at('removed')]))
  group(() => before.record('b', 'changed', ids(2)))
  group(() => before.record('b', 'removed', []))
  t.is(before.logged, 3, "the first group's row went with its only key; the second's waits for changed; one row each for the last two")
  // The process dies: what was pending in memory is gone; a new index over the same tables catches up.
  const records = new Map([
    ['alone', ids(9)],
    ['flushed', ids(1)],
    ['changed', ids(2)],
  ])
  const after = indexOver(tables)
  t.deepEqual(
    everything(after),
    new Map([
      ['b/alone', idText(1)],
      ['b/flushed', idText(1)],
      ['b/removed', idText(1)],
    ]),
    'only the flushed rows reached the table',
  )
  const asked: string[] = []
  const rewritten = txn(root, after, () =>
    after.catchUp((bucket, key) => {
      asked.push(`${bucket}/${key}`)
      return records.get(key) ?? []
    }),
  )
  t.is(rewritten, 3)
  t.deepEqual(asked.sort(), ['b/changed', 'b/flushed', 'b/removed'], 'a key no row names is not read')
  t.deepEqual(
    everything(after),
    new Map([
      ['b/alone', idText(1)],
      ['b/changed', idText(2)],
      ['b/flushed', idText(1)],
    ]),
    'the stale row of a removed key is gone',
  )
  t.is(after.logged, 0)
  // Sequence numbers start again after the emptied log.
  txn(root, after, () => after.record('b', 'next', ids(1)))
  after.committed()
  t.deepEqual([...tables.log.getKeys({})], [0])
  // With changes pending, a catch-up would reuse the numbers of the rows they name: refused.
  t.throws(() => root.transactionSync(() => after.catchUp(() => [])), { message: /before any change/ })
})

test("compareUtf8 orders strings as their UTF-8 bytes (LMDB's key order), unlike plain <", (t) => {
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
  const { root, tables } = await openRoot(t)
  const index = indexOver(tables)
  txn(root, index, () => {
    for (const k of ['x', 'y', 'z']) index.record('b', k, ids(1))
  })
  index.committed()
  const snapshot = index.pendingKeys()
  t.is(snapshot.length, 3)
  txn(root, index, () => index.record('b', 'late', ids(2)))
  index.committed()
  txn(root, index, () => t.is(index.flushKeys(snapshot), 3))
  index.committed()
  t.is(index.unflushed, 1, 'the change that came after the snapshot waits for the next flush')
  txn(root, index, () => t.is(index.flushKeys(snapshot), 0, 'nothing of the snapshot is left'))
  index.committed()
  t.deepEqual(
    everything(index),
    new Map([
      ['b/late', idText(2)],
      ['b/x', idText(1)],
      ['b/y', idText(1)],
      ['b/z', idText(1)],
    ]),
  )
})

test("a segment lists keys beyond ASCII in the table's order whether or not their changes are pending", async (t) => {
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
  const { root, tables } = await openRoot(t)
  const index = indexOver(tables)
  txn(root, index, () => {
    index.record('b', astral, ids(1))
    index.flushSlice(10)
  })
  index.committed()
  txn(root, index, () => index.record('b', bmp, ids(2)))
  index.committed()
  const merged = [...index.entries(seg)].map((e) => e.key)
  txn(root, index, () => index.flushSlice(10))
  index.committed()
  const fromTable = [...index.entries(seg)].map((e) => e.key)
  t.deepEqual(fromTable, [bmp, astral], 'LMDB orders by UTF-8 bytes')
  t.deepEqual(merged, fromTable)
})
