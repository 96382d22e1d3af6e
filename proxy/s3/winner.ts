/**
 * S3 has no siblings: of a key's concurrent live versions S3 answers one, the same on every proxy
 * (the newest last-modified, ties broken by the larger version id), and says how many there are in
 * `x-amz-meta-dynamo-siblings`. The siblings stay; the native API still shows and resolves them.
 */
import { NoSuchKeyError } from '../../shared/errors.js'
import { distinctWrites, versionId } from '../../shared/vclock/versions.js'
import type { Version } from '../../shared/wire/internal-api.js'

/** The S3 ETag of a version (unquoted): its MD5, or the SHA-256 of a version written before versions kept one. */
export { etagOf } from '../../shared/wire/internal-api.js'
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
