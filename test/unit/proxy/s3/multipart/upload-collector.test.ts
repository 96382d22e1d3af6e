import test from 'ava'
import { UploadCollector } from '../../../../../proxy/s3/multipart/upload-collector.js'
import type { ManifestRef, UploadRecord, UploadStore } from '../../../../../proxy/s3/multipart/upload-store.js'
import { createLogger } from '../../../../../shared/log.js'

const HOUR = 3_600_000
const NOW = 100 * HOUR
const GRACE = 10 * 60_000

/** The part of UploadStore the collector uses, over plain maps; `live` holds the upload ids whose manifest a read finds live (`'fail'`: the read fails). */
function fakeStore(records: Record<string, UploadRecord>, parts: Record<string, number>, refs: Record<string, ManifestRef> = {}, live: Record<string, boolean | 'fail'> = {}) {
  const removed: string[] = []
  const written: Record<string, ManifestRef> = {}
  const store = {
    async *records() {
      for (const [id, record] of Object.entries(records)) yield { id, record, lastModified: record.initiated }
    },
    async *partKeys() {
      for (const [key, lastModified] of Object.entries(parts)) yield { key, id: key.split('/')[1] as string, lastModified }
    },
    async *manifestRefIds() {
      yield* Object.keys(refs)
    },
    async manifestRef(id: string) {
      return refs[id]
    },
    async liveManifest(_ref: ManifestRef, id: string) {
      if (live[id] === 'fail') throw new Error('no quorum')
      return live[id] ? { upload: id } : undefined
    },
    async putManifestRef(id: string, ref: ManifestRef) {
      written[id] = ref
    },
    async remove(bucket: string, id: string) {
      removed.push(`upload ${bucket}/${id}`)
    },
    async removeParts(id: string) {
      removed.push(`parts ${id}`)
    },
    async removeKey(key: string) {
      removed.push(key)
    },
  }
  return { store: store as unknown as UploadStore, removed, written }
}

const record = (initiated: number): UploadRecord => ({ bucket: 'b', key: 'k', initiated, contentType: 'x', initiator: undefined })
const ref = (completed: number, deadSince?: number): ManifestRef => ({ bucket: 'b', key: 'k', completed, ...(deadSince === undefined ? {} : { deadSince }) })
const collectorOver = (store: UploadStore) => new UploadCollector(store, createLogger('test', 'silent'), { ttlMs: 24 * HOUR, intervalMs: HOUR, graceMs: GRACE, now: () => NOW })

test('an upload past its TTL is aborted; a young one and its parts stay; old orphan parts go, young ones stay', async (t) => {
  const { store, removed } = fakeStore(
    { old: record(NOW - 25 * HOUR), young: record(NOW - HOUR) },
    { 'p/young/00001': NOW - HOUR, 'i/young/00001': NOW - HOUR, 'p/gone/00001': NOW - 2 * HOUR, 'p/fresh/00001': NOW - 60_000 },
  )
  t.deepEqual(await collectorOver(store).sweep(), { aborted: 1, orphans: 1, freed: 0 })
  t.deepEqual(removed, ['upload b/old', 'p/gone/00001'])
})

test('the parts of a live manifest stay however old, and a gone mark is lifted when the manifest is found again', async (t) => {
  const { store, removed, written } = fakeStore({}, { 'p/done/00001': NOW - 50 * HOUR, 'p/done/00002': NOW - 50 * HOUR }, { done: ref(NOW - 50 * HOUR, NOW - HOUR) }, { done: true })
  t.deepEqual(await collectorOver(store).sweep(), { aborted: 0, orphans: 0, freed: 0 })
  t.deepEqual(removed, [])
  t.is(written.done?.deadSince, undefined)
})

test('a manifest found gone is first marked, and its parts freed only once it has been gone for the grace period', async (t) => {
  const first = fakeStore({}, { 'p/over/00001': NOW - 5 * HOUR }, { over: ref(NOW - 5 * HOUR) })
  t.deepEqual(await collectorOver(first.store).sweep(), { aborted: 0, orphans: 0, freed: 0 })
  t.deepEqual(first.removed, [])
  t.is(first.written.over?.deadSince, NOW)

  const recent = fakeStore({}, { 'p/over/00001': NOW - 5 * HOUR }, { over: ref(NOW - 5 * HOUR, NOW - GRACE + 1) })
  t.deepEqual(await collectorOver(recent.store).sweep(), { aborted: 0, orphans: 0, freed: 0 })
  t.deepEqual(recent.removed, [])

  const due = fakeStore({}, { 'p/over/00001': NOW - 5 * HOUR }, { over: ref(NOW - 5 * HOUR, NOW - GRACE) })
  t.deepEqual(await collectorOver(due.store).sweep(), { aborted: 0, orphans: 0, freed: 1 })
  t.deepEqual(due.removed, ['parts over', 'm/over'])
})

test('a Complete just begun (manifest not written yet) or a read that fails frees nothing', async (t) => {
  const young = fakeStore({}, {}, { fresh: ref(NOW - 60_000, NOW - GRACE) })
  t.deepEqual(await collectorOver(young.store).sweep(), { aborted: 0, orphans: 0, freed: 0 })
  const failing = fakeStore({}, { 'p/x/00001': NOW - 5 * HOUR }, { x: ref(NOW - 5 * HOUR, NOW - 2 * HOUR) }, { x: 'fail' })
  t.deepEqual(await collectorOver(failing.store).sweep(), { aborted: 0, orphans: 0, freed: 0 })
  t.deepEqual(failing.removed, [])
})

test('an upload still in progress keeps its parts even with a manifest reference (a Complete that failed can be retried)', async (t) => {
  const { store, removed } = fakeStore({ retry: record(NOW - HOUR) }, { 'p/retry/00001': NOW - HOUR }, { retry: ref(NOW - HOUR, NOW - 2 * HOUR) })
  t.deepEqual(await collectorOver(store).sweep(), { aborted: 0, orphans: 0, freed: 0 })
  t.deepEqual(removed, [])
})
