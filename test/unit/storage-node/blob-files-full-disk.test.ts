/**
 * BlobFiles on a filesystem that really fills: a tmpfs of a few MiB mounted by the test (root only;
 * elsewhere the tests are skipped, with the reason in their title). A body that runs out of space
 * fails with 507 InsufficientStorage, names no path, and leaves no temp file; with a reserve, a
 * body that would not fit is refused before a byte of it is read.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import test, { type ExecutionContext } from 'ava'
import { InsufficientStorageError } from '../../../shared/errors.js'
import { BlobFiles } from '../../../storage-node/store/blobs/blob-files.js'
import { DiskSpace } from '../../../storage-node/store/blobs/disk-space.js'

const MiB = 1024 ** 2
const FS_BYTES = 4 * MiB

/** Mount a tmpfs of FS_BYTES, or say why not. */
function mountTmpfs(): { dir: string; unmount: () => void } | { reason: string } {
  if (process.getuid?.() !== 0) return { reason: 'not root: cannot mount a tmpfs' }
  const dir = mkdtempSync(join(tmpdir(), 'blob-files-full-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${FS_BYTES}`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    return { reason: `mount -t tmpfs failed: ${String((err as Error).message).split('\n')[0]}` }
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', [dir])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const probe = mountTmpfs()
if ('unmount' in probe) probe.unmount()
const skipReason = 'reason' in probe ? probe.reason : undefined
function maybe(title: string, fn: (t: ExecutionContext) => Promise<void>): void {
  if (skipReason) test.skip(`${title} (skipped: ${skipReason})`, () => undefined)
  else test.serial(title, fn)
}

/** `total` bytes in 64 KiB chunks; counts the chunks read. */
function counted(total: number): { body: Readable; pulled: () => number } {
  let pulled = 0
  const chunk = Buffer.alloc(64 * 1024, 7)
  const body = new Readable({
    read() {
      if (pulled * chunk.length >= total) return void this.push(null)
      pulled++
      this.push(chunk)
    },
  })
  return { body, pulled: () => pulled }
}

async function blobsOn(dir: string, space?: DiskSpace): Promise<BlobFiles> {
  const dataDir = join(dir, 'node')
  mkdirSync(dataDir, { recursive: true })
  const blobs = new BlobFiles({ dataDir, inlineMaxBytes: 1024, maxObjectBytes: 64 * MiB, ...(space ? { space } : {}) })
  await blobs.start()
  return blobs
}

maybe('a body that runs out of disk mid-stream fails with 507, names no path, and leaves no temp file behind', async (t) => {
  const fs = mountTmpfs() as { dir: string; unmount: () => void }
  t.teardown(fs.unmount)
  const blobs = await blobsOn(fs.dir)
  const { body } = counted(2 * FS_BYTES)
  const err = await t.throwsAsync(blobs.receive(body), { instanceOf: InsufficientStorageError })
  t.is(err?.status, 507)
  t.false(err?.message.includes('/'), `no path in "${err?.message}"`)
  t.deepEqual(readdirSync(join(fs.dir, 'node', 'tmp')), [], 'the temp file is removed')
  const s = await statfs(fs.dir)
  t.true(s.bavail * s.bsize > FS_BYTES / 2, 'its space is free again')
  // The node goes on: a body that fits is stored.
  const small = await blobs.receive(Readable.from([Buffer.alloc(MiB, 1)]))
  t.is(small.size, MiB)
  await blobs.discard(small)
})

maybe('with a reserve, a body of declared size that would not fit is refused before a byte of it is read; one of unknown size stops at the reserve, short of ENOSPC', async (t) => {
  const fs = mountTmpfs() as { dir: string; unmount: () => void }
  t.teardown(fs.unmount)
  const space = new DiskSpace({ path: fs.dir, reserveBytes: MiB })
  await space.start()
  t.teardown(() => space.stop())
  const blobs = await blobsOn(fs.dir, space)
  const declared = counted(FS_BYTES)
  await t.throwsAsync(blobs.receive(declared.body, FS_BYTES), { instanceOf: InsufficientStorageError })
  t.is(declared.pulled(), 0, 'refused before the body was read')

  const unknown = counted(2 * FS_BYTES)
  const err = await t.throwsAsync(blobs.receive(unknown.body), { instanceOf: InsufficientStorageError })
  t.regex(err?.message ?? '', /reserve/, 'refused by the reserve, not by ENOSPC')
  t.deepEqual(readdirSync(join(fs.dir, 'node', 'tmp')), [])
  // The refused body's file is gone: once measured again (the node does so every second), a body that fits is taken.
  await space.refresh()
  const fits = await blobs.receive(Readable.from([Buffer.alloc(MiB, 1)]), MiB)
  t.is(fits.kind, 'file')
  await blobs.discard(fits)
})
