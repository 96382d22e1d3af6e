import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { open, type RootDatabase } from 'lmdb'
import { GroupCommit } from '../../../storage-node/store/group-commit.js'

async function openRoot(t: ExecutionContext): Promise<RootDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'group-commit-'))
  const root = open({ path: dir, compression: false })
  t.teardown(async () => {
    await root.close()
    await rm(dir, { recursive: true, force: true })
  })
  return root
}

test('writes asked for in one turn share one transaction; the next turn gets another', async (t) => {
  const root = await openRoot(t)
  const db = root.openDB<number, string>({ name: 'n' })
  const group = new GroupCommit(root)
  const first = await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      group.run(() => {
        db.put(`k${i}`, i)
        return root.getWriteTxnId()
      }),
    ),
  )
  t.is(new Set(first).size, 1)
  const next = await group.run(() => root.getWriteTxnId())
  t.not(next, first[0])
  // Committed before the promises resolved: visible to plain reads.
  t.deepEqual([0, 1, 2, 3, 4].map((i) => db.get(`k${i}`)), [0, 1, 2, 3, 4])
})

test('callbacks run in order and see the writes of those before them in the group', async (t) => {
  const root = await openRoot(t)
  const db = root.openDB<number, string>({ name: 'n' })
  const group = new GroupCommit(root)
  const seen = await Promise.all(
    Array.from({ length: 4 }, () =>
      group.run(() => {
        const n = (db.get('counter') ?? 0) + 1
        db.put('counter', n)
        return n
      }),
    ),
  )
  t.deepEqual(seen, [1, 2, 3, 4])
  t.is(db.get('counter'), 4)
})

test('a callback that throws fails alone; one that returns a promise is refused', async (t) => {
  const root = await openRoot(t)
  const db = root.openDB<string, string>({ name: 's' })
  const group = new GroupCommit(root)
  const [a, b, c] = await Promise.allSettled([
    group.run(() => {
      db.put('a', 'A')
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
  t.is(db.get('a'), 'A')
})
