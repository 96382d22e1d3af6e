/**
 * Collects what multipart uploads leave behind: an upload not completed within --s3-upload-ttl-ms
 * (abandoned) is aborted; the parts of a completed upload are freed once no live version of its key
 * is that upload's manifest (the object was overwritten or deleted) for GRACE_MS in a row, so a
 * reader that read the old manifest a moment ago still finds its parts, and a manifest version that
 * reaches its primaries late (a hint) is still found; parts whose upload is gone (aborted, but a
 * deletion failed) are deleted once older than GRACE_MS. Every proxy runs one; two collecting the
 * same upload both write tombstones, which is harmless.
 */
import type { Logger } from '../../../shared/log.js'
import { manifestRefKey, type UploadStore } from './upload-store.js'

/** A part whose upload record is not seen may belong to an upload made since the scan began, and a manifest found gone may be read still: both are left this long. */
const GRACE_MS = 10 * 60_000

export interface UploadCollectorInit {
  /** An upload older than this is abandoned. */
  ttlMs: number
  /** Time between sweeps. */
  intervalMs: number
  /** How long parts whose upload or manifest is gone are left (default GRACE_MS). */
  graceMs?: number
  now?: () => number
}

/** What one pass did. */
export interface SweepResult {
  /** Abandoned uploads aborted. */
  aborted: number
  /** Part keys deleted whose upload was gone. */
  orphans: number
  /** Completed uploads whose parts were freed: their manifest was superseded or deleted. */
  freed: number
}

export class UploadCollector {
  private timer: NodeJS.Timeout | undefined
  private running = false

  constructor(
    private readonly store: UploadStore,
    private readonly log: Logger,
    private readonly init: UploadCollectorInit,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.init.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** One pass; returns what it collected. */
  async sweep(): Promise<SweepResult> {
    const result: SweepResult = { aborted: 0, orphans: 0, freed: 0 }
    if (this.running) return result
    this.running = true
    const now = (this.init.now ?? Date.now)()
    const grace = this.init.graceMs ?? GRACE_MS
    try {
      // Uploads in progress, and completed ones whose manifest may still be live: their parts stay.
      const uploads = new Set<string>()
      for await (const r of this.store.records()) {
        if (!r.record) continue
        if (now - r.record.initiated <= this.init.ttlMs) {
          uploads.add(r.id)
          continue
        }
        await this.store.remove(r.record.bucket, r.id)
        result.aborted++
      }
      // Completed uploads: their parts are the manifest's to keep or free (freed ones are deleted already).
      const keep = new Set(uploads)
      for await (const id of this.store.manifestRefIds()) {
        keep.add(id)
        if (!uploads.has(id) && (await this.freeIfGone(id, now, grace))) result.freed++
      }
      for await (const p of this.store.partKeys()) {
        if (keep.has(p.id) || now - p.lastModified <= grace) continue
        await this.store.removeKey(p.key)
        result.orphans++
      }
      if (result.aborted + result.orphans + result.freed > 0) this.log.info(result, 'collected multipart upload parts')
    } catch (err) {
      this.log.warn({ err: String(err) }, 'multipart upload collection failed; next pass retries')
    } finally {
      this.running = false
    }
    return result
  }

  /**
   * Frees a completed upload's parts when its manifest has been gone (no live version of the key
   * lists them) since a pass at least `grace` ago; marks it gone at the first pass that finds it so,
   * and unmarks it when it is found live again. True when the parts were freed. A read that fails
   * (no quorum) decides nothing.
   */
  private async freeIfGone(id: string, now: number, grace: number): Promise<boolean> {
    try {
      const ref = await this.store.manifestRef(id)
      if (!ref) return false
      const live = (await this.store.liveManifest(ref, id)) !== undefined
      if (live) {
        if (ref.deadSince !== undefined) await this.store.putManifestRef(id, { ...ref, deadSince: undefined })
        return false
      }
      if (ref.deadSince === undefined) {
        await this.store.putManifestRef(id, { ...ref, deadSince: now })
        return false
      }
      if (now - ref.deadSince < grace || now - ref.completed < grace) return false
      await this.store.removeParts(id)
      await this.store.removeKey(manifestRefKey(id))
      return true
    } catch (err) {
      this.log.warn({ err: String(err), uploadId: id }, 'could not tell whether a multipart object still lists its parts; next pass retries')
      return false
    }
  }
}
