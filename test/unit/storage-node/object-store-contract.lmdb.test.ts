/** The ObjectStore contract (test/contract/object-store.contract.ts) run against the LMDB store. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import test, { type ExecutionContext } from 'ava'
import { BlobFiles } from '../../../storage-node/store/blobs/blob-files.js'
import { LmdbObjectStore } from '../../../storage-node/store/lmdb-object-store.js'
import { type ContractOptions, type OpenedStore, objectStoreContract } from '../../contract/object-store.contract.js'

let root = ''
test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'object-store-contract-lmdb-'))
})
test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true })
})

async function openOn(t: ExecutionContext, dataDir: string, options: ContractOptions): Promise<OpenedStore> {
  // A small inline limit: bodies of a few KiB become files, as large objects do.
  const blobs = new BlobFiles({ dataDir, inlineMaxBytes: 1024, maxObjectBytes: 64 * 1024 })
  await blobs.start()
  const store = new LmdbObjectStore({ nodeId: 'node-1', dataDir, blobs, ...options })
  t.teardown(() => store.close())
  return {
    store,
    body: (bytes) => blobs.receive(Readable.from([Buffer.from(bytes)])),
    reopen: async () => {
      await store.close()
      return openOn(t, dataDir, options)
    },
  }
}

objectStoreContract({ open: async (t, options) => openOn(t, await mkdtemp(join(root, 'node-')), options) })
