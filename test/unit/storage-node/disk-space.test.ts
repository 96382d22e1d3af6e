import test from 'ava'
import { InsufficientStorageError } from '../../../shared/errors.js'
import { type DiskSnapshot, DiskSpace } from '../../../storage-node/store/blobs/disk-space.js'

const MiB = 1024 ** 2

/** A filesystem whose free space the test sets; counts the statfs calls. */
function fakeFs(freeBytes: number, totalBytes = 1024 * MiB) {
  const fs = {
    free: freeBytes,
    calls: 0,
    statfs: async (_path: string) => {
      fs.calls++
      return { bavail: fs.free / 4096, bsize: 4096, blocks: totalBytes / 4096 }
    },
  }
  return fs
}

async function started(fs: ReturnType<typeof fakeFs>, reserveBytes: number | undefined, refreshAfterBytes = 1024 * MiB): Promise<DiskSpace> {
  const space = new DiskSpace({ path: '/nowhere', reserveBytes, statfs: fs.statfs, refreshMs: 60_000, refreshAfterBytes })
  await space.start()
  return space
}

test('a body of declared size is refused with 507 before any byte is written when it would eat into the reserve', async (t) => {
  const fs = fakeFs(100 * MiB)
  const space = await started(fs, 10 * MiB)
  t.teardown(() => space.stop())
  const err = t.throws(() => space.claim(91 * MiB), { instanceOf: InsufficientStorageError })
  t.is(err?.status, 507)
  t.is(err?.code, 'InsufficientStorage')
  t.false(/\//.test(err?.message ?? ''), 'no path in the message')
  space.claim(90 * MiB).release()
})

test('claims add up: concurrent uploads cannot together eat the reserve, and a released claim gives its room back', async (t) => {
  const fs = fakeFs(100 * MiB)
  const space = await started(fs, 10 * MiB)
  t.teardown(() => space.stop())
  const a = space.claim(50 * MiB)
  t.throws(() => space.claim(41 * MiB), { instanceOf: InsufficientStorageError })
  const b = space.claim(40 * MiB)
  a.wrote(50 * MiB)
  a.release()
  t.throws(() => space.claim(1), { instanceOf: InsufficientStorageError }, "a's bytes are on disk now: still no room")
  b.release()
  t.notThrows(() => space.claim(40 * MiB).release(), 'b never wrote: its room is back')
})

test('a body of unknown size is admitted while above the reserve and refused as soon as it grows into it', async (t) => {
  const fs = fakeFs(20 * MiB)
  const space = await started(fs, 10 * MiB)
  t.teardown(() => space.stop())
  const c = space.claim(undefined)
  for (let i = 0; i < 10; i++) c.wrote(MiB)
  t.throws(() => c.wrote(1), { instanceOf: InsufficientStorageError })
  c.release()
  t.false(space.full, 'admission itself never goes below the reserve')
  t.throws(() => space.claim(1), { instanceOf: InsufficientStorageError })
})

test('a body that writes past what it declared is checked for the rest like one of unknown size', async (t) => {
  const fs = fakeFs(20 * MiB)
  const space = await started(fs, 10 * MiB)
  t.teardown(() => space.stop())
  const c = space.claim(4 * MiB)
  c.wrote(4 * MiB)
  c.wrote(6 * MiB)
  t.throws(() => c.wrote(1), { instanceOf: InsufficientStorageError })
})

test('free space is measured once at start and on refresh, not per admission; written bytes lower it in between; full and back are told', async (t) => {
  const fs = fakeFs(30 * MiB)
  const space = await started(fs, 10 * MiB)
  t.teardown(() => space.stop())
  const told: DiskSnapshot[] = []
  space.onChange = (s) => told.push(s)
  t.is(fs.calls, 1)
  for (let i = 0; i < 100; i++) space.claim(0).release()
  t.is(fs.calls, 1, 'admission costs no statfs')
  const c = space.claim(undefined)
  c.wrote(20 * MiB)
  t.throws(() => c.wrote(1), { instanceOf: InsufficientStorageError })
  c.release()
  t.deepEqual(space.snapshot(), { freeBytes: 10 * MiB, totalBytes: 1024 * MiB, reserveBytes: 10 * MiB, full: false })
  t.is(fs.calls, 1)
  // Something else takes space (metadata, another process): the next measurement finds the node below its reserve.
  fs.free = 9 * MiB
  await space.refresh()
  t.deepEqual(space.snapshot(), { freeBytes: 9 * MiB, totalBytes: 1024 * MiB, reserveBytes: 10 * MiB, full: true })
  t.is(told.length, 1)
  t.true(told[0]?.full)
  t.throws(() => space.claim(undefined), { instanceOf: InsufficientStorageError }, 'below the reserve nothing new is taken, not even a body of unknown size')

  // Files deleted: the next measurement sees the space and the node takes data again, no restart.
  fs.free = 50 * MiB
  await space.refresh()
  t.is(fs.calls, 3)
  t.false(space.full)
  t.false(told[1]?.full)
  t.notThrows(() => space.claim(40 * MiB).release())
})

test('large writes since the last measurement bring the next one forward', async (t) => {
  const fs = fakeFs(1000 * MiB)
  const space = await started(fs, 10 * MiB, 64 * MiB)
  t.teardown(() => space.stop())
  const c = space.claim(200 * MiB)
  c.wrote(63 * MiB)
  t.is(fs.calls, 1)
  c.wrote(2 * MiB)
  await space.refresh()
  t.is(fs.calls, 2)
  c.release()
})

test('without --reserve-bytes the reserve is max(256 MiB, 1 % of the filesystem)', async (t) => {
  const small = await started(fakeFs(500 * MiB, 1024 * MiB), undefined)
  t.is(small.snapshot().reserveBytes, 256 * MiB)
  small.stop()
  const big = await started(fakeFs(50_000 * MiB, 100_000 * MiB), undefined)
  t.is(big.snapshot().reserveBytes, 1000 * MiB)
  big.stop()
})
