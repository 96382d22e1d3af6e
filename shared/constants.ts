/** Protocol-wide constants. Each carries the reason for its value. */

/** Replication factor N, read quorum R, write quorum W of the seeds' setup (4 machines, N=3, R=2, W=2). */
export const DEFAULT_N = 3
export const DEFAULT_R = 2
export const DEFAULT_W = 2

/** Virtual nodes per physical node: 128 keeps 4-10 node clusters within a few % of even load. */
export const DEFAULT_VNODES = 128

/**
 * Objects up to this size are kept inline in the node's embedded store (committed in groups,
 * one fsync for many writes); larger ones go to fsync'ed files, since a durable new file (tmp +
 * fsync + rename + directory fsync) costs several grouped commits (see
 * docs/decisions/0012-small-objects-inline.md).
 */
export const INLINE_MAX_BYTES = 64 * 1024
/** Inline bytes up to this size live inside their key's record on a node, so a read takes one lookup (see docs/storage.md). */
export const DEFAULT_EMBED_MAX_BYTES = 8 * 1024

/** Default object size limit (SPEC: 5 GiB). */
export const DEFAULT_MAX_OBJECT_BYTES = 5 * 1024 ** 3

/** A signed internal request older or newer than this is refused (clock skew plus transit). */
export const SIGNATURE_MAX_SKEW_MS = 30_000

/** A SigV4 request (header form) signed further than this from the proxy's clock is refused: S3's 15 minutes, so what works against S3 works here. */
export const SIGV4_MAX_SKEW_MS = 15 * 60_000
/** The longest a SigV4 presigned URL may live (X-Amz-Expires): S3's 7 days. */
export const PRESIGN_MAX_EXPIRES_SECONDS = 604_800

/** Internal API version: only ever append routes and fields; bump on incompatible change. */
export const INTERNAL_API_PREFIX = '/internal/v1'

/** Reserved bucket holding bucket records: its leading dot makes it an invalid S3 name, so no user bucket can collide. */
export const BUCKETS_NAMESPACE = '.buckets'

/** Reserved bucket of the key-value API (seed 002's /set, /fetch, /query): same ring, same store. */
export const KV_NAMESPACE = '.kv'

/** Reserved bucket of access keys, grants and public flags (shared/wire/access-records.ts). */
export const ACCESS_NAMESPACE = '.access'

/** Reserved bucket of S3 multipart uploads in progress (proxy/s3/multipart/): their records and parts, until completed, aborted or collected. */
export const S3_UPLOADS_NAMESPACE = '.s3-uploads'

/** Every reserved namespace: a leading dot, never a valid user bucket. */
export const RESERVED_NAMESPACES: readonly string[] = [BUCKETS_NAMESPACE, KV_NAMESPACE, ACCESS_NAMESPACE, S3_UPLOADS_NAMESPACE]

/**
 * Cluster metadata kept on every member rather than on N of them (shared/ring/placement.ts): it stays
 * readable while any member holding it is up, and a proxy reads all of it from any one member.
 */
export const EVERYWHERE_NAMESPACES: readonly string[] = [BUCKETS_NAMESPACE, ACCESS_NAMESPACE]

/** Staged uploads not committed within this time are dropped (a proxy died mid-write). */
export const STAGING_TTL_MS = 10 * 60_000

/** Page size bounds for listings. */
export const DEFAULT_LIST_LIMIT = 1000
export const MAX_LIST_LIMIT = 10_000

/** Live concurrent versions a key may accumulate before coordinated writes are refused (409 TooManySiblings). */
export const DEFAULT_MAX_SIBLINGS = 100

/** Actors kept in a version's context; Dynamo's paper uses 10. Entries are per node epoch, so this is rarely reached. */
export const DEFAULT_MAX_CLOCK_ENTRIES = 10

/**
 * Hinted versions a node holds for others at most (tombstones and empty objects included: the
 * byte bound counts payload only). Each costs a record of a few hundred bytes, so a million keep
 * the metadata held for other nodes to some hundreds of MiB while a node is down for long.
 */
export const DEFAULT_MAX_HINTS = 1_000_000
