import { execFile } from 'node:child_process'
import { closeSync, openSync, readSync, writeSync } from 'node:fs'
import { mkdtemp, rm, stat, statfs, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import test, { type ExecutionContext } from 'ava'
import { open, type RootDatabase } from 'lmdb'
import { InsufficientStorageError } from '../../../shared/errors.js'
import { GroupCommit, type GroupCommitOptions, StoreFailedError } from '../../../storage-node/store/engine/group-commit.js'
import { JOURNAL_EXTENT_BYTES, JOURNAL_HEAD_BYTES, Journal } from '../../../storage-node/store/engine/journal.js'

const execFileAsync = promisify(execFile)
const crashWriter = fileURLToPath(new URL('../../helpers/journal-crash-writer.ts', import.meta.url))

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'group-commit-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** LMDB in `dir` with a group commit journaling to `dir/journal`, recovered; closed after the test. */
function openGroup(t: ExecutionContext, dir: string, options: Partial<GroupCommitOptions> = {}) {
  const root = open({ path: dir, compression: false })
  const group = new GroupCommit(root, { journalPath: join(dir, 'journal'), sync: true, ...options })
  const numbers = group.table('n', root.openDB<number, string>({ name: 'n' }))
  const recovered = group.recover()
  let closed: Promise<void> | undefined
  const close = () => {
    closed ??= group.close().then(() => root.close())
    return closed
  }
  t.teardown(close)
  return { root, group, numbers, recovered, close }
}

const txnId = (root: RootDatabase) => root.getWriteTxnId()

test('groups share the transaction held open until a checkpoint; each write is readable once its group resolves', async (t) => {
  const dir = await tempDir(t)
  const { root, group, numbers } = openGroup(t, dir, { checkpointMs: 3_600_000 })
  const first = await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      group.run(() => {
        numbers.put(`k${i}`, i)
        return txnId(root)
      }),
    ),
  )
  t.is(new Set(first).size, 1, 'one group, one transaction')
  const next = await group.run(() => txnId(root))
  t.true(next === first[0], 'the next group runs in the same open transaction')
  t.deepEqual(
    [0, 1, 2, 3, 4].map((i) => numbers.get(`k${i}`)),
    [0, 1, 2, 3, 4],
  )
})

test('a checkpoint commits the open transaction after checkpointMs, and the next group opens another', async (t) => {
  const dir = await tempDir(t)
  const { root, group, numbers } = openGroup(t, dir, { checkpointMs: 30 })
  const before = await group.run(() => {
    numbers.put('a', 1)
    return txnId(root)
  })
  t.true(group.holdsTransaction)
  // The timer fires after 30 ms; under a loaded CI machine the turn that takes the checkpoint can
  // come much later, so wait for it (bounded) instead of sleeping a fixed time.
  // (Opening the same environment again here would wait forever for the write lock while the
  // transaction is held: the store opens every table before its first group.)
  const deadline = Date.now() + 10_000
  while (group.holdsTransaction && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.false(group.holdsTransaction, 'the timer committed the held transaction within 10 s')
  const after = await group.run(() => txnId(root))
  t.not(after, before)
  t.is(numbers.get('a'), 1)
})

test('callbacks run in order and see the writes of those before them in the group', async (t) => {
  const { group, numbers } = openGroup(t, await tempDir(t))
  const seen = await Promise.all(
    Array.from({ length: 4 }, () =>
      group.run(() => {
        const n = (numbers.get('counter') ?? 0) + 1
        numbers.put('counter', n)
        return n
      }),
    ),
  )
  t.deepEqual(seen, [1, 2, 3, 4])
  t.is(numbers.get('counter'), 4)
})

test('a callback that throws fails alone; one that returns a promise is refused', async (t) => {
  const { group, numbers } = openGroup(t, await tempDir(t))
  const [a, b, c] = await Promise.allSettled([
    group.run(() => {
      numbers.put('a', 1)
      return 'a'
    }),
    group.run(() => {
      throw new Error('refused before writing')
    }),
    group.run(async () => {
      await Promise.resolve()
      return 'c'
    }),
  ])
  t.is(a?.status, 'fulfilled')
  t.is(b?.status, 'rejected')
  t.is(c?.status, 'rejected')
  t.is(numbers.get('a'), 1)
})

test('a table written outside a group while the transaction is held open throws: the write would not be journaled', async (t) => {
  const { group, numbers } = openGroup(t, await tempDir(t), { checkpointMs: 3_600_000 })
  await group.run(() => numbers.put('a', 1))
  t.throws(() => numbers.put('b', 2), { message: /outside a group/ })
  t.is(numbers.get('b'), undefined)
})

test('a clean close checkpoints: reopened, there is nothing to replay', async (t) => {
  const dir = await tempDir(t)
  const first = openGroup(t, dir, { checkpointMs: 3_600_000 })
  await first.group.run(() => first.numbers.put('a', 1))
  await first.close()
  const second = openGroup(t, dir)
  t.is(second.recovered, 0)
  t.is(second.numbers.get('a'), 1)
  t.is((await stat(join(dir, 'journal'))).size, JOURNAL_EXTENT_BYTES, 'the journal is zero-filled ahead and keeps its size')
})

for (const [checkpointBytes, ending] of [
  [1 << 30, 'kill'],
  [4096, 'kill'],
  [1 << 30, 'exit'],
] as const) {
  const how = ending === 'kill' ? 'a SIGKILL' : 'process.exit with the transaction held'
  test(`every write acknowledged before ${how} is there after recovery, puts and removes alike (checkpoint every ${checkpointBytes} journal bytes)`, async (t) => {
    const dir = await tempDir(t)
    const groups = 60
    const run = await execFileAsync(process.execPath, ['--import=tsx', crashWriter, dir, String(groups), String(checkpointBytes), ending], { timeout: 60_000 }).then(
      () => undefined,
      (err: { signal?: string; code?: number; stdout?: string }) => err,
    )
    if (ending === 'kill') t.is(run?.signal, 'SIGKILL')
    else t.deepEqual([run?.code, run?.signal], [3, null], "the process exited (lmdb-js's exit hook did not wait for the held write lock)")
    t.deepEqual(JSON.parse(run?.stdout ?? '{}'), { acknowledged: groups })
    const root = open({ path: dir, compression: false })
    const group = new GroupCommit(root, { journalPath: join(dir, 'journal'), sync: true })
    const text = group.table('text', root.openDB<string, string>({ name: 'text' }))
    const bin = group.table('bin', root.openDB<Buffer, string>({ name: 'bin', encoding: 'binary' }))
    t.teardown(() => group.close().then(() => root.close()))
    const replayed = group.recover()
    if (checkpointBytes > 1 << 20) t.is(replayed, 1 + 3 * (groups - 1), 'nothing was checkpointed: every write came back from the journal')
    else t.true(replayed < 3 * 2 * 5, `only what followed the last checkpoint is replayed (${replayed} writes)`)
    t.deepEqual(
      [...text.getRange({})].map(({ key, value }) => [key, value]),
      [[`k${groups - 1}`, `v${groups - 1}`]],
    )
    const bins = [...bin.getRange({})]
    t.is(bins.length, groups - 1)
    for (const { key, value } of bins) t.true(value.equals(Buffer.alloc(3072, Number(String(key).slice(1)) % 256)), String(key))
    // Recovery started a new generation: closing and reopening replays nothing twice.
    await group.close()
    const again = new GroupCommit(root, { journalPath: join(dir, 'journal'), sync: true })
    again.table('text', root.openDB<string, string>({ name: 'text' }))
    again.table('bin', root.openDB<Buffer, string>({ name: 'bin', encoding: 'binary' }))
    t.is(again.recover(), 0)
    await again.close()
  })
}

test('a journal that cannot be written fails the store: the group and every later write are refused, LMDB keeps none of them, and onFailure is told', async (t) => {
  const dir = await tempDir(t)
  const root = open({ path: dir, compression: false })
  t.teardown(() => root.close())
  const failures: string[] = []
  // /dev/full refuses every write with ENOSPC: the first group's record fails.
  const group = new GroupCommit(root, { journalPath: '/dev/full', journalExtentBytes: 0, sync: true, onFailure: (err) => failures.push(err.message) })
  const numbers = group.table('n', root.openDB<number, string>({ name: 'n' }))
  const outcomes = { committed: 0, aborted: 0 }
  group.listener = { committed: () => outcomes.committed++, aborted: () => outcomes.aborted++ }
  group.recover()
  const lost = await Promise.allSettled([group.run(() => numbers.put('x', 1)), group.run(() => numbers.put('y', 2))])
  t.deepEqual(
    lost.map((o) => o.status),
    ['rejected', 'rejected'],
  )
  t.true(lost.every((o) => o.status === 'rejected' && o.reason instanceof StoreFailedError))
  t.deepEqual(outcomes, { committed: 0, aborted: 1 })
  t.is(failures.length, 1)
  t.regex(failures[0] ?? '', /ENOSPC/)
  await t.throwsAsync(
    group.run(() => numbers.put('z', 3)),
    { instanceOf: StoreFailedError },
  )
  t.is(numbers.get('x'), undefined, 'the held transaction was aborted')
  t.is(numbers.get('y'), undefined)
  await group.close()
})

test('run before recover is refused: the journal would write over records not yet applied', async (t) => {
  const dir = await tempDir(t)
  const root = open({ path: dir, compression: false })
  const group = new GroupCommit(root, { journalPath: join(dir, 'journal'), sync: true })
  const numbers = group.table('n', root.openDB<number, string>({ name: 'n' }))
  t.teardown(() => group.close().then(() => root.close()))
  await t.throwsAsync(
    group.run(() => numbers.put('a', 1)),
    { message: /not recovered/ },
  )
  group.recover()
  await group.run(() => numbers.put('a', 1))
  t.is(numbers.get('a'), 1)
})

test('a journal newer than LMDB (a restored data.mdb) is not replayed, and its generation number is never used again', async (t) => {
  const dir = await tempDir(t)
  const older = new Journal(join(dir, 'journal'), { sync: true })
  older.restart(7)
  older.append([['n', 'stale', 1]])
  older.close()
  const { group, numbers, recovered, close } = openGroup(t, dir)
  t.is(recovered, 0, 'LMDB is at generation 0: the records of generation 7 are not its successors')
  t.is(numbers.get('stale'), undefined)
  await group.run(() => numbers.put('fresh', 2))
  await close()
  const after = new Journal(join(dir, 'journal'), { sync: true })
  t.teardown(() => after.close())
  t.is(after.firstGeneration(), 8, 'the next generation is past every one found in the file')
  t.deepEqual(after.read(8), [[['n', 'fresh', 2]]])
})

test('journal records: a corrupt record ends the replay; records of another generation are not read', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'journal')
  const j = new Journal(path, { sync: true, extentBytes: 4096 })
  j.restart(3)
  const first = j.append([['t', 'a', 'A']])
  const second = j.append([
    ['t', 'b', 'B'],
    ['t', 'a'],
  ])
  j.append([['t', 'c', Buffer.from('bytes')]])
  j.close()
  const read = (gen: number) => {
    const r = new Journal(path, { sync: true })
    try {
      return r.read(gen)
    } finally {
      r.close()
    }
  }
  t.deepEqual(read(3), [
    [['t', 'a', 'A']],
    [
      ['t', 'b', 'B'],
      ['t', 'a'],
    ],
    [['t', 'c', Buffer.from('bytes')]],
  ])
  t.deepEqual(read(2), [])
  t.deepEqual(read(4), [])
  // One byte of the third record's payload flipped (a torn write): the replay stops after the second.
  const fd = openSync(path, 'r+')
  const at = first + second + JOURNAL_HEAD_BYTES + 1
  const byte = Buffer.alloc(1)
  readSync(fd, byte, 0, 1, at)
  writeSync(fd, Buffer.from([(byte[0] as number) ^ 0xff]), 0, 1, at)
  closeSync(fd)
  t.deepEqual(read(3), [
    [['t', 'a', 'A']],
    [
      ['t', 'b', 'B'],
      ['t', 'a'],
    ],
  ])
})

test('a checkpoint that finds the disk full does not fail the store: writes stay readable from the journal, more are taken up to its bound, and all are checkpointed once space comes back', async (t) => {
  if (process.getuid?.() !== 0) return t.pass('skipped: not root, cannot mount a tmpfs')
  const dir = await tempDir(t)
  try {
    await execFileAsync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir])
  } catch (err) {
    return t.pass(`skipped: mount -t tmpfs failed: ${String(err).split('\n')[0]}`)
  }
  t.teardown(() => execFileAsync('umount', [dir]))
  const failures: Error[] = []
  const short: (Error | undefined)[] = []
  const options = { checkpointMs: 20, checkpointBytes: 64 * 1024, journalExtentBytes: 256 * 1024, onFailure: (e: Error) => failures.push(e), onSpaceShort: (e: Error | undefined) => short.push(e) }
  const first = openGroup(t, dir, options)
  await first.group.run(() => first.numbers.put('before', 1))
  const s = await statfs(dir)
  // As much as fits (the last bytes may not: the file stays as large as they let it be).
  await writeFile(join(dir, 'filler'), Buffer.alloc(s.bavail * s.bsize)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOSPC') throw err
  })
  const written = new Map<string, number>([['before', 1]])
  const waitFor = async (what: string, ok: () => boolean) => {
    const deadline = Date.now() + 10_000
    while (!ok() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    t.true(ok(), what)
  }
  // Enough new keys that LMDB needs pages it cannot get.
  for (let g = 0; g < 5; g++) {
    await first.group.run(() => {
      for (let i = 0; i < 300; i++) first.numbers.put(`k${g}-${i}`, g * 1000 + i)
    })
    for (let i = 0; i < 300; i++) written.set(`k${g}-${i}`, g * 1000 + i)
  }
  await waitFor('a checkpoint failed for want of space', () => short.length > 0)
  t.truthy(short[0])
  t.deepEqual(failures, [], 'the store did not fail')
  t.false(first.group.failed)
  for (const [k, v] of written) if (first.numbers.get(k) !== v) t.fail(`${k} lost after the failed checkpoint`)
  // More writes go to the journal until it holds checkpointBytes; then 507.
  let refused: unknown
  for (let g = 0; g < 200 && !refused; g++) {
    await first.group
      .run(() => {
        for (let i = 0; i < 50; i++) first.numbers.put(`m${g}-${i}`, i)
      })
      .then(
        () => {
          for (let i = 0; i < 50; i++) written.set(`m${g}-${i}`, i)
        },
        (err: unknown) => {
          refused = err
        },
      )
  }
  t.true(refused instanceof InsufficientStorageError, String(refused))
  t.deepEqual(failures, [])
  for (const [k, v] of written) if (first.numbers.get(k) !== v) t.fail(`${k} lost while the disk was full`)

  await rm(join(dir, 'filler'))
  await waitFor('a checkpoint succeeded once space came back', () => short.at(-1) === undefined && short.length >= 2)
  await first.group.run(() => first.numbers.put('after', 2))
  written.set('after', 2)
  await first.close()
  const again = openGroup(t, dir, options)
  t.is(again.recovered, 0, 'everything was checkpointed: nothing to replay')
  for (const [k, v] of written) if (again.numbers.get(k) !== v) t.fail(`${k} lost across the reopen`)
  t.deepEqual(failures, [])
})
