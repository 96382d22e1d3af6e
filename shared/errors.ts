/** Typed errors with a stable code and HTTP status; the one place that maps them to HTTP is each app's error middleware. */

export abstract class StoreError extends Error {
  abstract readonly code: string
  abstract readonly status: number
  readonly expose = true
  constructor(message: string) {
    super(message)
    this.name = new.target.name
  }
}

export class InvalidBucketNameError extends StoreError {
  readonly code = 'InvalidBucketName'
  readonly status = 400
}
export class InvalidKeyError extends StoreError {
  readonly code = 'InvalidKey'
  readonly status = 400
}
export class InvalidContextError extends StoreError {
  readonly code = 'InvalidContext'
  readonly status = 400
}
export class InvalidArgumentError extends StoreError {
  readonly code = 'InvalidArgument'
  readonly status = 400
}
export class InvalidRequestError extends StoreError {
  readonly code = 'InvalidRequest'
  readonly status = 400
}
export class UnauthorizedError extends StoreError {
  readonly code = 'Unauthorized'
  readonly status = 401
}
export class NoSuchBucketError extends StoreError {
  readonly code = 'NoSuchBucket'
  readonly status = 404
}
export class NoSuchKeyError extends StoreError {
  readonly code = 'NoSuchKey'
  readonly status = 404
}
export class NoSuchVersionError extends StoreError {
  readonly code = 'NoSuchVersion'
  readonly status = 404
}
export class NotFoundError extends StoreError {
  readonly code = 'NotFound'
  readonly status = 404
}
export class BucketAlreadyExistsError extends StoreError {
  readonly code = 'BucketAlreadyExists'
  readonly status = 409
}
export class BucketNotEmptyError extends StoreError {
  readonly code = 'BucketNotEmpty'
  readonly status = 409
}
/** A write would leave more concurrent versions than the configured cap: resolve the siblings first. */
export class TooManySiblingsError extends StoreError {
  readonly code = 'TooManySiblings'
  readonly status = 409
}
export class EntityTooLargeError extends StoreError {
  readonly code = 'EntityTooLarge'
  readonly status = 413
}
/** The client sent its body too slowly (a trickle that would hold the server). */
export class RequestTimeoutError extends StoreError {
  readonly code = 'RequestTimeout'
  readonly status = 408
}
export class BadDigestError extends StoreError {
  readonly code = 'BadDigest'
  readonly status = 400
}

/** A condition of the request (If-Match, If-None-Match on a write, If-Unmodified-Since) does not hold: nothing was read or written. */
export class PreconditionFailedError extends StoreError {
  readonly code = 'PreconditionFailed'
  readonly status = 412
}
/** The Range asks for bytes the object does not have (416; the answer's Content-Range names the size, see proxy/objects/byte-range.ts). */
export class InvalidRangeError extends StoreError {
  readonly code = 'InvalidRange'
  readonly status = 416
}
/**
 * Not an error to the client: a conditional GET or HEAD (If-None-Match, If-Modified-Since) whose
 * copy is current. Thrown so every route answers it the same way: 304 with the headers already set
 * (ETag, Last-Modified) and no body (error-middleware.ts).
 */
export class NotModifiedError extends StoreError {
  readonly code = 'NotModified'
  readonly status = 304
}

/** A node asked to stand in for another refuses: its hint storage is at its limit (the proxy tries the next fallback). */
export class HintStoreFullError extends StoreError {
  readonly code = 'HintStoreFull'
  readonly status = 507
}

/**
 * A node's free space is below its reserve (or ran out while a body streamed in): it takes no new
 * data until space comes back. A healthy node's answer: the proxy sends the replica to a stand-in,
 * and answers it to a client only when no replica can take the write.
 */
export class InsufficientStorageError extends StoreError {
  readonly code = 'InsufficientStorage'
  readonly status = 507
}

/** A replica's stored bytes no longer match their SHA-256: never served; the copy is quarantined. */
export class CorruptReplicaError extends StoreError {
  readonly code = 'CorruptReplica'
  readonly status = 502
}

/**
 * A coordinated write reached its node after the time the proxy waits for it (the node was paused,
 * or the request sat in a socket): the proxy has retried it elsewhere, so storing it now would only
 * leave a stale sibling. Refused before anything is written.
 */
export class WriteExpiredError extends StoreError {
  readonly code = 'WriteExpired'
  readonly status = 503
}
/** Fewer than the needed replicas answered. `reached` names the nodes that did, so a partial write is reported, not hidden. */
export class QuorumNotReachedError extends StoreError {
  readonly code = 'QuorumNotReached'
  readonly status = 503
  constructor(
    readonly needed: number,
    readonly reached: readonly string[],
    readonly failures: readonly string[],
  ) {
    super(`quorum not reached: ${reached.length}/${needed} replicas answered (${failures.join('; ') || 'no live replicas'})`)
  }
}

/** An authenticated key asked for something outside its grants (or a presigned URL expired). */
export class AccessDeniedError extends StoreError {
  readonly code = 'AccessDenied'
  readonly status = 403
}
/** The request names an access key id the cluster does not know (or one deleted). */
export class InvalidAccessKeyIdError extends StoreError {
  readonly code = 'InvalidAccessKeyId'
  readonly status = 403
}
/** The signature (or a Basic secret) does not match the key's secret. */
export class SignatureDoesNotMatchError extends StoreError {
  readonly code = 'SignatureDoesNotMatch'
  readonly status = 403
}
/** A SigV4 request signed more than 15 minutes away from the proxy's clock. */
export class RequestTimeTooSkewedError extends StoreError {
  readonly code = 'RequestTimeTooSkewed'
  readonly status = 403
}
/** An Authorization header or presigned query that is not well-formed SigV4 (or Basic). */
export class AuthorizationHeaderMalformedError extends StoreError {
  readonly code = 'AuthorizationHeaderMalformed'
  readonly status = 400
}
/** The body's SHA-256 differs from the x-amz-content-sha256 the request was signed with: nothing is stored. */
export class ContentSha256MismatchError extends StoreError {
  readonly code = 'XAmzContentSHA256Mismatch'
  readonly status = 400
}
/** The proxy could not refresh keys and grants from any member for too long: it refuses rather than act on stale grants. */
/** A ring change refused for the node's state: decommission of a dead node, remove of a live one, a change that would leave fewer owners than N. */
export class InvalidNodeStateError extends StoreError {
  readonly code = 'InvalidNodeState'
  readonly status = 409
}

export class AccessCatalogStaleError extends StoreError {
  readonly code = 'ServiceUnavailable'
  readonly status = 503
}

/** A reap asked of a node while tombstones must stay (a node joins the ring): the asking reaper keeps its own copy too. */
export class ReapBlockedError extends StoreError {
  readonly code = 'ReapBlocked'
  readonly status = 409
}

/** User metadata (x-amz-meta-*) past S3's 2 KiB. */
export class MetadataTooLargeError extends StoreError {
  readonly code = 'MetadataTooLarge'
  readonly status = 400
}

/** Client errors a storage node may answer with, rebuilt on the proxy so they reach the client unchanged. */
const CLIENT_ERRORS: Record<string, new (message: string) => StoreError> = {
  InvalidBucketName: InvalidBucketNameError,
  InvalidKey: InvalidKeyError,
  InvalidRequest: InvalidRequestError,
  BadDigest: BadDigestError,
  TooManySiblings: TooManySiblingsError,
  EntityTooLarge: EntityTooLargeError,
}

/** The StoreError a node's 4xx answer stands for, if it is one a client should see. */
export function clientErrorFromCode(code: string, message: string): StoreError | undefined {
  const E = CLIENT_ERRORS[code]
  return E ? new E(message) : undefined
}

/** Body of every error answer, as SPEC.md fixes it. */
export interface ErrorBody {
  success: false
  error: { code: string; message: string; [extra: string]: unknown }
}

/** The one mapping from a thrown value to status + JSON body; unknown errors become an unexposed 500. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody; unexpected: boolean } {
  if (err instanceof StoreError) {
    const extra = err instanceof QuorumNotReachedError ? { needed: err.needed, reached: err.reached } : {}
    return { status: err.status, body: { success: false, error: { code: err.code, message: err.message, ...extra } }, unexpected: false }
  }
  // Errors of Koa middleware (http-errors: body parsing limits, malformed JSON) carry a 4xx status.
  const status = (err as { status?: unknown } | null)?.status
  if (typeof status === 'number' && status >= 400 && status < 500 && (err as { expose?: boolean }).expose) {
    const code = status === 413 ? 'EntityTooLarge' : status === 415 ? 'UnsupportedMediaType' : 'InvalidRequest'
    return { status, body: { success: false, error: { code, message: (err as Error).message } }, unexpected: false }
  }
  return { status: 500, body: { success: false, error: { code: 'InternalError', message: 'internal error' } }, unexpected: true }
}
