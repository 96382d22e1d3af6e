/**
 * Reads of held bytes, verified against their SHA-256, and what happens to a copy found corrupt:
 * it is never served, its file is moved aside, and its version leaves this node's set, so a read
 * repair, a handoff or anti-entropy brings a good copy back from another replica.
 */
import { Readable } from 'node:stream'
import { CorruptReplicaError, NoSuchVersionError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { versionId } from '../../shared/vclock/versions.js'
import type { ByteSpan, Version } from '../../shared/wire/internal-api.js'
import type { BlobFiles } from './blobs/blob-files.js'
import type { GroupCommit } from './engine/group-commit.js'
import type { Space } from './object-store.js'
import { publicVersion, type StoredVersion } from './records.js'
import type { VersionSets } from './version-sets.js'

export interface VerifiedReadsComponents {
  sets: VersionSets
  group: GroupCommit
  blobs: BlobFiles
  log?: Logger | undefined
}

export class VerifiedReads {
  constructor(private readonly c: VerifiedReadsComponents) {}

  /** The bytes of a held version (with `range`, those only: see BlobFiles.openVerified); a copy found corrupt is quarantined and the error says so. */
  async openData(space: Space, bucket: string, key: string, id: string, range?: ByteSpan): Promise<Readable> {
    const v = this.c.sets.held(space, bucket, key).find((h) => versionId(h.dot) === id)
    if (!v || v.tombstone) throw new NoSuchVersionError(`version ${id} is not held here`)
    try {
      if (v.blob) return await this.c.blobs.openVerified(v.blob, v.etag, () => void this.quarantine(space, bucket, key, v), undefined, range)
      if (v.size === 0) return Readable.from([])
      const bytes = this.c.sets.storedBytes(space, bucket, key, v)
      return Readable.from([range ? bytes.subarray(range.start, range.end + 1) : bytes])
    } catch (err) {
      if (err instanceof CorruptReplicaError) await this.quarantine(space, bucket, key, v)
      throw err
    }
  }

  /**
   * Every version held, and the bytes of the only live one when there is exactly one, it is not a
   * file and has at most `maxBytes` (a quorum read then needs no second request): one record
   * lookup, no stream. A copy found corrupt is quarantined, and the versions are those left.
   */
  async versionsWithData(space: Space, bucket: string, key: string, maxBytes: number): Promise<{ versions: Version[]; data?: Buffer }> {
    const held = this.c.sets.held(space, bucket, key)
    const versions = held.map(publicVersion)
    const live = held.filter((v) => !v.tombstone)
    const only = live[0]
    if (live.length !== 1 || !only || only.blob || only.size > maxBytes) return { versions }
    if (only.size === 0) return { versions, data: Buffer.alloc(0) }
    try {
      return { versions, data: this.c.sets.storedBytes(space, bucket, key, only) }
    } catch (err) {
      if (!(err instanceof CorruptReplicaError)) throw err
      await this.quarantine(space, bucket, key, only)
      return { versions: this.c.sets.held(space, bucket, key).map(publicVersion) }
    }
  }

  private async quarantine(space: Space, bucket: string, key: string, v: StoredVersion): Promise<void> {
    this.c.log?.error({ bucket, key, version: versionId(v.dot), blob: v.blob }, 'corrupt replica quarantined')
    if (v.blob) await this.c.blobs.quarantine(v.blob)
    await this.c.group.run(() => void this.c.sets.remove(space, bucket, key, new Set([versionId(v.dot)])))
  }
}
