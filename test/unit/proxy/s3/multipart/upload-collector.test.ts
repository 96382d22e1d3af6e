import test from 'ava'
import { UploadCollector } from '../../../../../proxy/s3/multipart/upload-collector.js'
import type { UploadRecord, UploadStore } from '../../../../../proxy/s3/multipart/upload-store.js'
import { createLogger } from '../../../../../shared/log.js'

const HOUR = 3_600_000
const NOW = 100 * HOUR

/** The part of UploadStore the collector uses, over plain maps. */
function fakeStore(records: Record<string, UploadRecord>, parts: Record<string, number>) {
  const removed: string[] = []
  const store = {
    async *records() {
      for (const [id, record] of Object.entries(records)) yield { id, record, lastModified: record.initiated }
    },
    async *partKeys() {
      for (const [key, lastModified] of Object.entries(parts)) yield { key, id: key.split('/')[1] as string, lastModified }
    },
    async remove(bucket: string, id: string) {
      removed.push(`upload ${bucket}/${id}`)
    },
    async removeKey(key: string) {
      removed.push(key)
    },
  }
  return { store: store as unknown as UploadStore, removed }
}

const record = (initiated: number): UploadRecord => ({ bucket: 'b', key: 'k', initiated, contentType: 'x', initiator: undefined })

test('an upload past its TTL is aborted; a young one and its parts stay; old orphan parts go, young ones stay', async (t) => {
  const { store, removed } = fakeStore(
    { old: record(NOW - 25 * HOUR), young: record(NOW - HOUR) },
    { 'p/young/00001': NOW - HOUR, 'i/young/00001': NOW - HOUR, 'p/gone/00001': NOW - 2 * HOUR, 'p/fresh/00001': NOW - 60_000 },
  )
  const collector = new UploadCollector(store, createLogger('test', 'silent'), { ttlMs: 24 * HOUR, intervalMs: HOUR, now: () => NOW })
  t.deepEqual(await collector.sweep(), { aborted: 1, orphans: 1 })
  t.deepEqual(removed, ['upload b/old', 'p/gone/00001'])
})
