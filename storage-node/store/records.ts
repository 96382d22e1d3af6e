/**
 * Where a version's bytes live, in the LMDB store: a file (`blob`, see blobs/blob-files.ts),
 * embedded in the key's record (`bytes`, up to `embedMaxBytes`), or in the inline table (larger
 * inline bytes, and every inline byte of a data directory written before embedding). Keeping the
 * smallest in the record changes one B-tree fewer per write and reads them in one lookup
 * (docs/decisions/0012-small-objects-inline.md); the record that listings and version checks
 * decode then holds at most `embedMaxBytes` of bytes per version.
 */
import { hash } from 'node:crypto'
import { DEFAULT_EMBED_MAX_BYTES } from '../../shared/constants.js'
import type { Version } from '../../shared/wire/internal-api.js'
import type { Space } from './object-store.js'

/** A version as stored: where its bytes are. `blob` names a file; `bytes` are embedded; otherwise they are in the inline table (or empty). */
export interface StoredVersion extends Version {
  blob?: string
  bytes?: Buffer
}

export interface StoredRecord {
  versions: StoredVersion[]
  /** Highest counter this node issued per own incarnation for the key (see planCoordinatedWrite). */
  issued?: Record<string, number>
}

export const OWN: Space = { kind: 'own' }

/** The version without where its bytes are: what leaves the store. */
export function publicVersion(v: StoredVersion): Version {
  const { blob: _blob, bytes: _bytes, ...rest } = v
  return rest
}

/** Whether inline bytes of this size are embedded in their record (rather than in the inline table). */
export function embeds(size: number, embedMaxBytes: number | undefined): boolean {
  return size > 0 && size <= (embedMaxBytes ?? DEFAULT_EMBED_MAX_BYTES)
}

/** Whether a held version's bytes are in the inline table (not a file, not embedded, not empty). */
export function inTable(v: StoredVersion): boolean {
  return !v.blob && !v.bytes && v.size > 0
}

/**
 * Inline bytes are keyed by space, bucket, key and version: the same version held as data and as a
 * hint never shares them, and two keys can never collide even if a dot were ever issued twice.
 */
export function inlineKey(space: Space, bucket: string, key: string, id: string): string {
  const where = `${bucket}\u0000${key}\u0000${id}`
  return space.kind === 'own' ? where : `hint\u0000${space.target}\u0000${where}`
}

export const sha256 = (bytes: Buffer): string => hash('sha256', bytes)
