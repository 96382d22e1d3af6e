import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import test from 'ava'
import { contextOf, EMPTY_CONTEXT } from '../../../shared/vclock/versions.js'
import { BlobFiles } from '../../../storage-node/store/blobs/blob-files.js'
import { LmdbObjectStore } from '../../../storage-node/store/lmdb-object-store.js'
import { siblingChange } from '../../../storage-node/store/sibling-count.js'
import { ctx, foreignVersion, hint, NOW } from '../../helpers/store-fixtures.js'

const live = (actor: string, n: number) => foreignVersion(actor, n, ctx(), { kind: 'inline', size: 1, etag: 'e', bytes: Buffer.from('x') })
const tomb = (actor: string, n: number) => foreignVersion(actor, n, ctx(), null)

test('a live write beside a live version it did not supersede creates a sibling; a tombstone or a write that replaced it does not', (t) => {
  t.deepEqual(siblingChange([live('a', 1)], [live('a', 1)], false), { created: true, resolved: false })
  t.deepEqual(siblingChange([live('a', 1)], [live('a', 1)], true), { created: false, resolved: false })
  t.deepEqual(siblingChange([live('a', 1)], [], false), { created: false, resolved: false })
  t.deepEqual(siblingChange([tomb('a', 1)], [tomb('a', 1)], false), { created: false, resolved: false })
})

test('a write that supersedes two or more live versions at once resolves siblings (a delete too); superseding one does not', (t) => {
  t.deepEqual(siblingChange([live('a', 1), live('b', 1)], [], false), { created: false, resolved: true })
  t.deepEqual(siblingChange([live('a', 1), live('b', 1)], [], true), { created: false, resolved: true })
  t.deepEqual(siblingChange([live('a', 1), live('b', 1), live('c', 1)], [live('c', 1)], false), { created: true, resolved: true })
  t.deepEqual(siblingChange([live('a', 1), tomb('b', 1)], [], false), { created: false, resolved: false })
})

test("the store counts its own data's coordinated writes, not a stand-in's hint space", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sibling-count-test-'))
  const blobs = new BlobFiles({ dataDir, inlineMaxBytes: 1024, maxObjectBytes: 64 * 1024 })
  await blobs.start()
  const store = new LmdbObjectStore({ nodeId: 'node-1', dataDir, blobs, now: () => NOW })
  t.teardown(async () => {
    await store.close()
    await rm(dataDir, { recursive: true, force: true })
  })
  const body = (s: string) => blobs.receive(Readable.from([Buffer.from(s)]))
  await store.coordinate('b', 'k', { context: EMPTY_CONTEXT }, await body('one'))
  await store.coordinate('b', 'k', { context: EMPTY_CONTEXT }, await body('two'))
  t.deepEqual({ ...store.siblings }, { created: 1, resolved: 0 })
  await store.coordinate('b', 'k', { context: contextOf(store.versions('b', 'k')) }, await body('resolved'))
  t.deepEqual({ ...store.siblings }, { created: 1, resolved: 1 })
  for (const s of ['h1', 'h2']) await store.coordinate('b', 'k', { context: EMPTY_CONTEXT }, await body(s), hint('node-2'))
  t.deepEqual({ ...store.siblings }, { created: 1, resolved: 1 })
})
