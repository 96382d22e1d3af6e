/**
 * Collects what multipart uploads leave behind: an upload not completed within --s3-upload-ttl-ms
 * (abandoned) is aborted, and parts whose upload is gone (completed or aborted, but a deletion
 * failed) are deleted once older than ORPHAN_GRACE_MS. Every proxy runs one; two collecting the same
 * upload both write tombstones, which is harmless.
 */
import type { Logger } from '../../../shared/log.js'
import type { UploadStore } from './upload-store.js'

/** A part whose upload record is not seen may belong to an upload made since the scan began: it is left this long. */
const ORPHAN_GRACE_MS = 10 * 60_000

export interface UploadCollectorInit {
  /** An upload older than this is abandoned. */
  ttlMs: number
  /** Time between sweeps. */
  intervalMs: number
  now?: () => number
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

  /** One pass; returns how many uploads were aborted and orphan part keys deleted. */
  async sweep(): Promise<{ aborted: number; orphans: number }> {
    if (this.running) return { aborted: 0, orphans: 0 }
    this.running = true
    const now = (this.init.now ?? Date.now)()
    let aborted = 0
    let orphans = 0
    try {
      const live = new Set<string>()
      for await (const r of this.store.records()) {
        if (!r.record) continue
        if (now - r.record.initiated <= this.init.ttlMs) {
          live.add(r.id)
          continue
        }
        await this.store.remove(r.record.bucket, r.id)
        aborted++
      }
      for await (const p of this.store.partKeys()) {
        if (live.has(p.id) || now - p.lastModified <= ORPHAN_GRACE_MS) continue
        await this.store.removeKey(p.key)
        orphans++
      }
      if (aborted + orphans > 0) this.log.info({ aborted, orphans }, 'collected abandoned multipart uploads')
    } catch (err) {
      this.log.warn({ err: String(err) }, 'multipart upload collection failed; next pass retries')
    } finally {
      this.running = false
    }
    return { aborted, orphans }
  }
}
