/**
 * The object operations of a node's internal API, independent of the transport: the HTTP routes
 * (routes/objects.ts) and the RPC channel (rpc/rpc-server.ts) parse their inputs and call these,
 * so both validate, store and answer the same way.
 */
import { INLINE_MAX_BYTES, RESERVED_NAMESPACES } from '../../shared/constants.js'
import { BadDigestError, CorruptReplicaError, InvalidRequestError } from '../../shared/errors.js'
import { assertBucketName, assertKey, NODE_ID_RE } from '../../shared/names.js'
import { versionId } from '../../shared/vclock/versions.js'
import type { CoordinateRequest, Version, VersionsAnswer, WriteAnswer } from '../../shared/wire/internal-api.js'
import type { BlobFiles, ReceivedBody } from '../store/blobs/blob-files.js'
import type { Space, VersionReader, VersionWriter } from '../store/object-store.js'

export interface ObjectServiceComponents {
  nodeId: string
  store: VersionReader & VersionWriter
  blobs: BlobFiles
}

/** Throws unless `bucket` is a user bucket or a reserved namespace, and `key` a valid key. */
export function assertTarget(bucket: string, key: string): void {
  if (!bucket.startsWith('.')) assertBucketName(bucket)
  else if (!RESERVED_NAMESPACES.includes(bucket)) throw new InvalidRequestError(`unknown reserved namespace ${bucket}`)
  assertKey(key)
}

/** The space a request addresses: the hints held for `hintFor`, or the node's own data. */
export function spaceFor(hintFor: string | undefined, selfId: string): Space {
  if (!hintFor || hintFor === selfId) return { kind: 'own' }
  if (!NODE_ID_RE.test(hintFor)) throw new InvalidRequestError('bad hint target')
  return { kind: 'hint', target: hintFor }
}

export class ObjectService {
  constructor(private readonly c: ObjectServiceComponents) {}

  /**
   * `senderClockOffsetMs`: this node's clock minus the sender's, as measured when its request (or its
   * RPC channel) arrived; the write's `expiresAt` is on the sender's clock and is moved onto ours, so
   * clock skew between proxy and node does not make writes expire early or late.
   */
  async coordinate(bucket: string, key: string, write: CoordinateRequest, body: ReceivedBody | null, space: Space, senderClockOffsetMs = 0): Promise<WriteAnswer> {
    const onOurClock = write.expiresAt === undefined ? write : { ...write, expiresAt: write.expiresAt + senderClockOffsetMs }
    const result = await this.c.store.coordinate(bucket, key, onOurClock, write.tombstone ? null : body, space)
    return { node: this.c.nodeId, ...result }
  }

  async replicate(bucket: string, key: string, version: Version, body: ReceivedBody | null, space: Space): Promise<WriteAnswer> {
    if (body && (body.etag !== version.etag || body.size !== version.size)) {
      await this.c.blobs.discard(body)
      throw new BadDigestError('received bytes do not match the version (size or SHA-256)')
    }
    const result = await this.c.store.replicate(bucket, key, version, version.tombstone ? null : body, space)
    return { node: this.c.nodeId, ...result }
  }

  /**
   * The versions held; with `inline`, when exactly one live version of at most INLINE_MAX_BYTES is
   * held, its bytes too (a quorum read then needs no second request for the data).
   */
  async versions(bucket: string, key: string, space: Space, inline: boolean): Promise<{ answer: VersionsAnswer; data?: Buffer }> {
    if (!inline) return { answer: { node: this.c.nodeId, versions: this.c.store.versions(bucket, key, space) } }
    const { versions, data } = await this.c.store.versionsWithData(bucket, key, space, INLINE_MAX_BYTES)
    const answer: VersionsAnswer = { node: this.c.nodeId, versions }
    const live = versions.filter((v) => !v.tombstone)
    const only = live[0]
    if (live.length !== 1 || !only || only.size > INLINE_MAX_BYTES) return { answer }
    if (data) return { answer, data }
    // A small version kept in a file (a node run with a lower --inline-max-bytes).
    try {
      const chunks: Buffer[] = []
      for await (const chunk of (await this.c.store.openData(bucket, key, versionId(only.dot), space)) as AsyncIterable<Buffer>) chunks.push(chunk)
      return { answer, data: Buffer.concat(chunks) }
    } catch (err) {
      if (!(err instanceof CorruptReplicaError)) throw err
      // The copy was quarantined: answer what is left, so the reader repairs this replica.
      return { answer: { node: this.c.nodeId, versions: this.c.store.versions(bucket, key, space) } }
    }
  }
}
