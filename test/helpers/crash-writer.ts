/**
 * A process that writes to a store on the data directory it is given and then kills itself with
 * SIGKILL: a node that crashed with its last writes in its journal (acknowledged, not yet
 * checkpointed into LMDB) and its last segment index changes still in memory (their keys in the index's log). It writes keys k0..k(COUNT-1), closes the store cleanly (the index
 * table then holds them), reopens it, overwrites k0 and writes COUNT more keys, prints the version
 * id each key now has as JSON, and is killed.
 *
 *   node --import=tsx test/helpers/crash-writer.ts DATA_DIR COUNT
 */
import { Readable } from 'node:stream'
import { contextOf, versionId } from '../../shared/vclock/versions.js'
import { BlobFiles } from '../../storage-node/store/blobs/blob-files.js'
import { LmdbObjectStore } from '../../storage-node/store/lmdb-object-store.js'

const [dataDir, countArg] = process.argv.slice(2)
const count = Number(countArg)
if (!dataDir || !(count > 0)) throw new Error('usage: crash-writer.ts DATA_DIR COUNT')
const blobs = new BlobFiles({ dataDir, inlineMaxBytes: 1024, maxObjectBytes: 64 * 1024 })
await blobs.start()
const bytes = (text: string) => blobs.receive(Readable.from([Buffer.from(text)]))
const written: Record<string, string> = {}

async function writeKeys(store: LmdbObjectStore, from: number, to: number): Promise<void> {
  await Promise.all(
    Array.from({ length: to - from }, async (_, i) => {
      const key = `k${from + i}`
      written[key] = versionId((await store.coordinate('b', key, {}, await bytes(key))).version.dot)
    }),
  )
}

const first = new LmdbObjectStore({ nodeId: 'node-1', dataDir, blobs })
await writeKeys(first, 0, count)
await first.close()
// No checkpoint before the kill: the second session's writes, and the index's log rows, are only in the journal.
const second = new LmdbObjectStore({ nodeId: 'node-1', dataDir, blobs, checkpointMs: 60_000 })
written.k0 = versionId((await second.coordinate('b', 'k0', { context: contextOf(second.versions('b', 'k0')) }, await bytes('k0 again'))).version.dot)
await writeKeys(second, count, 2 * count)
process.stdout.write(`${JSON.stringify(written)}\n`, () => process.kill(process.pid, 'SIGKILL'))
