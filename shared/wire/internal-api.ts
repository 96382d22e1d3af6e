/**
 * The storage node's internal API, defined once: paths, and zod schemas of every request and
 * answer, imported by the node's routes and by the proxy's client so the two cannot drift.
 * Only append routes and fields (the path carries the protocol version).
 * Bytes travel as raw streamed bodies; metadata beside them travels in headers as base64url JSON.
 */
import { z } from 'zod'
import { RingStateSchema } from './ring.js'
import { TransferProgressSchema } from './transfer.js'
import { INTERNAL_API_PREFIX } from '../constants.js'
import { ObjectMetadataSchema } from './object-metadata.js'
import { CausalContextSchema, DotSchema, RetiredSchema, VectorClockSchema, WriteIdSchema } from '../vclock/schemas.js'

/** Hex MD5 of an object's bytes, or S3's multipart ETag (`<hex MD5 of the parts' MD5s>-<parts>`). */
export const Md5Schema = z.string().regex(/^[0-9a-f]{32}(-[1-9][0-9]{0,4})?$/)

/** One version of an object, as every replica stores and reports it. */
export const VersionSchema = z.object({
  dot: DotSchema,
  /** What the write was made over: this version supersedes exactly the dots it covers. */
  context: CausalContextSchema,
  tombstone: z.boolean(),
  size: z.number().int().nonnegative(),
  /** Hex SHA-256 of the bytes; replicas verify it before storing. */
  etag: z.string().regex(/^[0-9a-f]{64}$/),
  contentType: z.string().max(256),
  /** Milliseconds since the epoch, from the coordinator. */
  lastModified: z.number().int().nonnegative(),
  /** Node id of the coordinator that created the version. */
  node: z.string().min(1).max(64),
  /**
   * Id of the client request that made it. A write re-coordinated on another node after a timeout
   * can leave two versions of one request (the slow node may still commit); same id and bytes mark
   * them as one write (see distinctWrites).
   */
  writeId: WriteIdSchema.optional(),
  /** Made by a retry of its request on another coordinator (the first may have stored a twin). */
  retried: z.literal(true).optional(),
  /** Ids of retried requests whose versions this one replaced: their late twins are superseded too (see supersedes). */
  retired: RetiredSchema.optional(),
  /**
   * The ETag both public APIs answer (see etagOf): hex MD5 of the bytes, computed once by the
   * proxy while the body streams, or S3's multipart form (MD5 of the parts' MD5s, `-` part count).
   * Absent on tombstones and on versions written before it existed; `etag` stays the integrity check.
   */
  md5: Md5Schema.optional(),
  /** What the object keeps beside its bytes for HTTP and S3 clients (user metadata, representation headers); absent when none was sent. */
  meta: ObjectMetadataSchema.optional(),
})
export type Version = z.infer<typeof VersionSchema>

/** The entity tag of a version on the public APIs: its MD5, or for a version written before MD5s were kept, its SHA-256 as before. */
export function etagOf(v: Pick<Version, 'etag' | 'md5'>): string {
  return v.md5 ?? v.etag
}

/** Coordinated write (PUT .../coordinate): the node advances its own counter over `context`. */
export const CoordinateRequestSchema = z.object({
  /** Absent: supersede everything the coordinator holds for the key. */
  context: CausalContextSchema.optional(),
  tombstone: z.boolean().default(false),
  contentType: z.string().max(256).default('application/octet-stream'),
  /** Id of the client request, the same on every coordinator it is tried on. */
  writeId: WriteIdSchema.optional(),
  /** Not the first coordinator this request was sent to. */
  retried: z.literal(true).optional(),
  /** Retried requests the client's read context retires (the versions it read; see retiredBy). */
  retired: RetiredSchema.optional(),
  /**
   * Epoch ms after which the node must not store the write: by then the proxy has given up on this
   * node and retried elsewhere, and a late commit would come back as a stale sibling of later writes.
   */
  expiresAt: z.number().int().positive().optional(),
  /** The bytes' MD5 as the proxy computed it while they streamed, kept in the version (see VersionSchema.md5). */
  md5: Md5Schema.optional(),
  /** Kept in the version (see VersionSchema.meta). */
  meta: ObjectMetadataSchema.optional(),
})
export type CoordinateRequest = z.input<typeof CoordinateRequestSchema>

/** Answer of coordinate and replicate: the version written and the clock the replica now holds for the key. */
export const WriteAnswerSchema = z.object({
  node: z.string(),
  version: VersionSchema,
  /** False when the replica already held a version that supersedes (or is) this one. */
  stored: z.boolean(),
  clock: VectorClockSchema,
})
export type WriteAnswer = z.infer<typeof WriteAnswerSchema>

export const StageAnswerSchema = z.object({ uploadId: z.string(), size: z.number().int().nonnegative(), etag: z.string() })
export type StageAnswer = z.infer<typeof StageAnswerSchema>

export const VersionsAnswerSchema = z.object({ node: z.string(), versions: z.array(VersionSchema) })
export type VersionsAnswer = z.infer<typeof VersionsAnswerSchema>

export const ListQuerySchema = z.object({
  prefix: z.string().max(1024).default(''),
  after: z.string().max(1024).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
})
export const ListEntrySchema = z.object({ key: z.string(), versions: z.array(VersionSchema) })
export type ListEntry = z.infer<typeof ListEntrySchema>
export const ListAnswerSchema = z.object({ node: z.string(), entries: z.array(ListEntrySchema), truncated: z.boolean() })
export type ListAnswer = z.infer<typeof ListAnswerSchema>

export type { Dot } from '../vclock/versions.js'

/** Tombstone reaping: drop the key if everything held is a tombstone among `dots`. */
export const ReapRequestSchema = z.object({ dots: z.array(DotSchema).max(10_000) })
export const ReapAnswerSchema = z.object({ node: z.string(), reaped: z.boolean() })
export type ReapAnswer = z.infer<typeof ReapAnswerSchema>

/**
 * A node's group commit since it started (see storage-node/store/engine/group-commit.ts): groups run, table
 * writes journaled, journal bytes written, checkpoints and their time (ms, the event loop blocked),
 * and the time spent appending (writev + fdatasync) the groups' records, with the longest append.
 */
export const CommitStatsSchema = z.object({
  groups: z.number(),
  writes: z.number(),
  journalBytes: z.number(),
  checkpoints: z.number(),
  checkpointMsTotal: z.number(),
  checkpointMsMax: z.number(),
  appendMsTotal: z.number(),
  appendMsMax: z.number(),
})
export type CommitStats = z.infer<typeof CommitStatsSchema>

/** A node's data directory: free space as last measured, the reserve kept for metadata, and whether it is below it (taking no new data). */
export const DiskStatusSchema = z.object({ free_bytes: z.number(), total_bytes: z.number(), reserve_bytes: z.number(), full: z.boolean() })
export type DiskStatus = z.infer<typeof DiskStatusSchema>

/** A process's memory as it reports it: resident set and V8 heap in use (bytes). */
export const MemoryStatusSchema = z.object({ rss_bytes: z.number(), heap_used_bytes: z.number() })
export type MemoryStatus = z.infer<typeof MemoryStatusSchema>

/** This process's MemoryStatus, now. */
export function memoryStatus(): MemoryStatus {
  const m = process.memoryUsage()
  return { rss_bytes: m.rss, heap_used_bytes: m.heapUsed }
}

/** GET /health of a node (open): liveness, gossip traffic, hints pending per target node, anti-entropy and group commit counters, disk space, memory. */
export const NodeHealthSchema = z.object({
  success: z.boolean(),
  node: z.string(),
  gossip: z.object({ exchanges: z.number(), failures: z.number(), bytesOut: z.number(), bytesIn: z.number() }),
  hints: z.record(z.string(), z.object({ versions: z.number(), bytes: z.number() })),
  antiEntropy: z.object({ rounds: z.number(), keysRepaired: z.number(), versionsPushed: z.number(), versionsPulled: z.number() }).optional(),
  commits: CommitStatsSchema.optional(),
  disk: DiskStatusSchema.optional(),
  memory: MemoryStatusSchema.optional(),
  /** The node's ownership transfer (shared/wire/transfer.ts), once it has run a pass with work. */
  transfer: TransferProgressSchema.optional(),
  /** The node's own state in its ring record. */
  ring_state: RingStateSchema.optional(),
})
export type NodeHealth = z.infer<typeof NodeHealthSchema>

/** Inclusive byte offsets of an object, `start <= end < size`: a Range GET's one span. */
export interface ByteSpan {
  start: number
  end: number
}

/**
 * The data route's optional `?range=start-end` (appended: a node that predates it ignores it and
 * answers 200 with every byte, so the reader checks for 206 and trims itself).
 */
export function encodeRangeQuery(span: ByteSpan): string {
  return `${span.start}-${span.end}`
}

/** The span of a `?range=` query, or undefined when absent or malformed (the whole object is served). */
export function decodeRangeQuery(value: unknown): ByteSpan | undefined {
  const m = typeof value === 'string' ? /^(\d{1,15})-(\d{1,15})$/.exec(value) : null
  if (!m) return undefined
  const span = { start: Number(m[1]), end: Number(m[2]) }
  return span.start <= span.end ? span : undefined
}

const enc = encodeURIComponent
const base = (bucket: string, key: string) => `${INTERNAL_API_PREFIX}/objects/${enc(bucket)}/${enc(key)}`

/** Paths of the internal routes; the node mounts the `pattern`s, the client builds with the functions. */
export const internalRoutes = {
  stage: { pattern: `${INTERNAL_API_PREFIX}/staging/:uploadId`, path: (uploadId: string) => `${INTERNAL_API_PREFIX}/staging/${enc(uploadId)}` },
  coordinate: { pattern: `${INTERNAL_API_PREFIX}/objects/:bucket/:key/coordinate`, path: (b: string, k: string) => `${base(b, k)}/coordinate` },
  replicate: { pattern: `${INTERNAL_API_PREFIX}/objects/:bucket/:key/replicate`, path: (b: string, k: string) => `${base(b, k)}/replicate` },
  reap: { pattern: `${INTERNAL_API_PREFIX}/objects/:bucket/:key/reap`, path: (b: string, k: string) => `${base(b, k)}/reap` },
  versions: { pattern: `${INTERNAL_API_PREFIX}/objects/:bucket/:key/versions`, path: (b: string, k: string) => `${base(b, k)}/versions` },
  data: {
    pattern: `${INTERNAL_API_PREFIX}/objects/:bucket/:key/data/:versionId`,
    path: (b: string, k: string, versionId: string) => `${base(b, k)}/data/${enc(versionId)}`,
  },
  list: { pattern: `${INTERNAL_API_PREFIX}/keys/:bucket`, path: (b: string) => `${INTERNAL_API_PREFIX}/keys/${enc(b)}` },
  gossip: { pattern: `${INTERNAL_API_PREFIX}/gossip`, path: () => `${INTERNAL_API_PREFIX}/gossip` },
  segmentDigests: { pattern: `${INTERNAL_API_PREFIX}/anti-entropy/digests`, path: () => `${INTERNAL_API_PREFIX}/anti-entropy/digests` },
  segmentKeys: { pattern: `${INTERNAL_API_PREFIX}/anti-entropy/keys`, path: () => `${INTERNAL_API_PREFIX}/anti-entropy/keys` },
  ringChange: { pattern: `${INTERNAL_API_PREFIX}/ring/change`, path: () => `${INTERNAL_API_PREFIX}/ring/change` },
  transferHave: { pattern: `${INTERNAL_API_PREFIX}/transfer/have`, path: () => `${INTERNAL_API_PREFIX}/transfer/have` },
} as const

/**
 * Anti-entropy between two replicas: each side summarises, per segment, only the keys the two of
 * them replicate (both among the key's N primaries in its own view of the ring), so equal data
 * gives equal digests.
 */
const SegmentSchema = z.number().int().min(0).max(255)
export const SegmentDigestsRequestSchema = z.object({ peer: z.string().min(1).max(64), segments: z.array(SegmentSchema).max(256) })
export const SegmentDigestsAnswerSchema = z.object({ node: z.string(), digests: z.array(z.string()) })
export type SegmentDigestsAnswer = z.infer<typeof SegmentDigestsAnswerSchema>
export const SegmentKeysRequestSchema = z.object({ peer: z.string().min(1).max(64), segment: SegmentSchema })
export const SegmentKeysAnswerSchema = z.object({
  node: z.string(),
  /** Keys with the ids of the versions held (sorted, space-separated). */
  keys: z.array(z.object({ bucket: z.string(), key: z.string(), ids: z.string() })),
})
export type SegmentKeysAnswer = z.infer<typeof SegmentKeysAnswerSchema>

/** base64url JSON for metadata headers. */
export function encodeHeaderJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** Parse a base64url JSON header with a schema; returns the zod error on failure. */
export function decodeHeaderJson<S extends z.ZodType>(schema: S, header: string | undefined): z.ZodSafeParseResult<z.output<S>> {
  let raw: unknown
  try {
    raw = header === undefined ? undefined : JSON.parse(Buffer.from(header, 'base64url').toString('utf8'))
  } catch {
    raw = Symbol('malformed')
  }
  return schema.safeParse(raw)
}
