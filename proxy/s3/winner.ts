/**
 * S3 has no siblings: of a key's concurrent live versions S3 answers one, the same on every proxy
 * (the newest last-modified, ties broken by the larger version id), and says how many there are in
 * `x-amz-meta-dynamo-siblings`. The siblings stay; the native API still shows and resolves them.
 */
import { NoSuchKeyError } from '../../shared/errors.js'
import { distinctWrites, versionId } from '../../shared/vclock/versions.js'
import type { Version } from '../../shared/wire/internal-api.js'
import type { ReadOutcome } from '../coordinator/read-outcome.js'

export const HEADER_S3_SIBLINGS = 'x-amz-meta-dynamo-siblings'

/** The winner of a key's live versions, and how many distinct live writes there are; NoSuchKey when none. */
export function winnerOf(outcome: ReadOutcome, bucket: string, key: string): { winner: Version; siblings: number } {
  const live = distinctWrites(outcome.versions.filter((v) => !v.tombstone))
  if (live.length === 0) throw new NoSuchKeyError(`the key ${key} does not exist in bucket ${bucket}`)
  return { winner: newestOf(live), siblings: live.length }
}

/** Newest last-modified, ties by version id (byte order, larger wins): deterministic whatever the order given. */
export function newestOf<V extends Pick<Version, 'lastModified' | 'dot'>>(versions: readonly V[]): V {
  return versions.reduce((a, b) => {
    if (b.lastModified !== a.lastModified) return b.lastModified > a.lastModified ? b : a
    return versionId(b.dot) > versionId(a.dot) ? b : a
  })
}

/**
 * The S3 ETag of a version: its MD5 once versions carry one (the `md5` field being appended to the
 * Version schema), else the SHA-256 the store keys bytes by. Unquoted.
 */
export function etagOf(v: Version): string {
  const md5 = (v as Version & { md5?: unknown }).md5
  return typeof md5 === 'string' && md5 !== '' ? md5 : v.etag
}
