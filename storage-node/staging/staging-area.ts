/**
 * Bodies streamed to a node before the version they belong to exists: the proxy streams a large
 * upload to every replica at once, then names one of them coordinator and tells the others which
 * staged body the resulting version uses. Staged bodies a proxy never committed expire.
 */
import { STAGING_TTL_MS } from '../../shared/constants.js'
import { NotFoundError } from '../../shared/errors.js'
import type { BlobFiles, ReceivedBody } from '../store/blobs/blob-files.js'

interface Staged {
  body: ReceivedBody
  expiresAt: number
}

export class StagingArea {
  private readonly staged = new Map<string, Staged>()
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly blobs: BlobFiles,
    private readonly ttlMs: number = STAGING_TTL_MS,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.expire(Date.now()), Math.min(this.ttlMs, 30_000))
    this.timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    for (const id of [...this.staged.keys()]) await this.drop(id)
  }

  async put(uploadId: string, body: ReceivedBody): Promise<void> {
    await this.drop(uploadId)
    this.staged.set(uploadId, { body, expiresAt: Date.now() + this.ttlMs })
  }

  /** Take a staged body out (the caller stores or discards it). */
  take(uploadId: string): ReceivedBody {
    const s = this.staged.get(uploadId)
    if (!s) throw new NotFoundError(`no staged upload ${uploadId} (expired or never received)`)
    this.staged.delete(uploadId)
    return s.body
  }

  private async drop(uploadId: string): Promise<void> {
    const s = this.staged.get(uploadId)
    this.staged.delete(uploadId)
    if (s) await this.blobs.discard(s.body)
  }

  private async expire(now: number): Promise<void> {
    for (const [id, s] of this.staged) if (s.expiresAt <= now) await this.drop(id)
  }
}
