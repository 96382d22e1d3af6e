/**
 * The answer of `?explain=1` on a GET or HEAD of a file, defined once: what each replica of the key
 * and each stand-in holds, which version supersedes which and why, and what a plain GET answers.
 * The proxy builds it (proxy/coordinator/explainer.ts), `./dynamoctl explain` parses it. Only append fields.
 */
import { z } from 'zod'
import { CausalContextSchema, VectorClockSchema } from '../vclock/schemas.js'

/** Why one version makes another obsolete (see `supersedes` in shared/vclock/versions.ts). */
export const SupersedeReasonSchema = z.enum([
  /** The superseding version's context covers the other's dot: its writer had seen it. */
  'covered',
  /** The other is a twin of a retried request that the superseding version's writer read and replaced. */
  'retired',
])
export type SupersedeReason = z.infer<typeof SupersedeReasonSchema>

/** One version as one node holds it, with its fate in the reconciled result. */
export const ExplainVersionSchema = z.object({
  /** `<actor>.<counter>`: the version's dot, unique in the cluster. */
  version: z.string(),
  /** Context and dot flattened to `{actor: counter}` (clockOf), as `X-Vector-Clock` shows it. */
  vector_clock: VectorClockSchema,
  tombstone: z.boolean(),
  size: z.number().int().nonnegative(),
  /** The ETag the API answers (hex MD5, or the multipart form). */
  etag: z.string(),
  /** Hex SHA-256 of the bytes. */
  content_sha256: z.string(),
  /** ISO 8601, from the coordinator that made the version. */
  last_modified: z.string(),
  /** Node id of the coordinator that made the version. */
  node: z.string(),
  /** Id of the client request that made it, when known. */
  write_id: z.string().optional(),
  /** True when the version is in the reconciled result (no version held anywhere supersedes it). */
  survives: z.boolean(),
  /** The held versions that supersede this one, surviving ones first; empty when it survives. */
  superseded_by: z.array(z.object({ version: z.string(), reason: SupersedeReasonSchema })),
  /**
   * What the version was written over (the writer's causal context): it supersedes exactly the
   * versions whose dot (`version`) this covers. Two siblings written from one X-Context have equal
   * contexts, neither covering the other's dot, though their flattened `vector_clock`s look ordered.
   */
  context: CausalContextSchema.optional(),
  /** A multipart object's version: its stored bytes (`size`, `content_sha256`) are the list of its parts; the object is `bytes` long in `parts` parts. */
  manifest: z.object({ parts: z.number().int().positive(), bytes: z.number().int().nonnegative() }).optional(),
})
export type ExplainVersion = z.infer<typeof ExplainVersionSchema>

/** What asking one node answered: its versions, or why there are none to show. */
export const ProbeOutcomeSchema = z.enum(['ok', 'unreachable', 'error'])
export type ProbeOutcome = z.infer<typeof ProbeOutcomeSchema>

/**
 * One question to one node: a primary for its own replica, or a node beyond the preference list
 * for the hints it keeps for one primary (`hint_for`).
 */
export const ExplainProbeSchema = z.object({
  node: z.string(),
  /** `primary`: one of the key's first N nodes of the preference list; `stand-in`: any other live node, asked for hints. */
  role: z.enum(['primary', 'stand-in']),
  /** Position in the preference list (0-based); beyond the primaries for stand-ins. */
  position: z.number().int().nonnegative(),
  /** The member's state in the proxy's membership view when asked. */
  member_status: z.enum(['up', 'suspect', 'down', 'unknown']),
  /** For a stand-in: the primary whose hints were asked for. */
  hint_for: z.string().optional(),
  outcome: ProbeOutcomeSchema,
  /** When the outcome is not `ok`: what failed. */
  error: z.string().optional(),
  /** What the node holds for the key (for a stand-in: as hints for `hint_for`); empty when it holds nothing or did not answer. */
  versions: z.array(ExplainVersionSchema),
  /** Milliseconds the node took to answer. */
  ms: z.number().nonnegative(),
})
export type ExplainProbe = z.infer<typeof ExplainProbeSchema>

/** What a plain GET of the key answers, given everything explain gathered. */
export const ExplainReadSchema = z.object({
  /** 200: one live version; 300: siblings; 404: nothing live (absent, or only tombstones). */
  status: z.union([z.literal(200), z.literal(300), z.literal(404)]),
  /** With 200: the version answered. */
  version: z.string().optional(),
  /** With 300: how many siblings (distinct writes among the live survivors). */
  siblings: z.number().int().nonnegative().optional(),
})
export type ExplainRead = z.infer<typeof ExplainReadSchema>

/** The whole answer of `GET|HEAD /buckets/:bucket/files/*key?explain=1` (HEAD sends no body). */
export const ExplainAnswerSchema = z.object({
  success: z.literal(true),
  bucket: z.string(),
  key: z.string(),
  /** Replicas the key is kept on (N for its bucket). */
  n: z.number().int().positive(),
  /** The key's primaries in preference-list order. */
  preference_list: z.array(z.string()),
  /** Every question asked: the primaries first, then each live node beyond them once per primary. */
  probes: z.array(ExplainProbeSchema),
  reconciled: z.object({
    /** Ids of the versions no held version supersedes (tombstones included), sorted. */
    survivors: z.array(z.string()),
    /** Ids of the live survivors a GET shows as siblings (one per client request). */
    siblings: z.array(z.string()),
    /** The clock a read of the key would hand out as context, flattened. */
    vector_clock: VectorClockSchema,
  }),
  read: ExplainReadSchema,
  /** Primaries and stand-ins that did not answer: the picture may be incomplete. */
  unanswered: z.array(z.string()),
})
export type ExplainAnswer = z.infer<typeof ExplainAnswerSchema>
