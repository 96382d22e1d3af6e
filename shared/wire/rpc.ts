/**
 * The internal RPC channel's messages, defined once (see shared/rpc/frames.ts for the framing).
 * It carries the small, frequent calls of the data path (coordinate and replicate with a small
 * body, versions with inline data); everything else, and every large body, stays on the HTTP
 * routes of internal-api.ts. Requests name the same operations and carry the same schemas as
 * those routes; answers are the same answer schemas, or an error with the status and code the
 * HTTP route would have answered.
 */
import { z } from 'zod'
import { INTERNAL_API_PREFIX } from '../constants.js'
import { NODE_ID_RE } from '../names.js'
import { CoordinateRequestSchema, VersionSchema, VersionsAnswerSchema } from './internal-api.js'

/** The HTTP Upgrade that opens a channel: path (signed like every internal request, for the target node) and protocol token. */
export const RPC_UPGRADE_PATH = `${INTERNAL_API_PREFIX}/rpc`
/** Version 2: sealed frames (shared/rpc/channel-auth.ts). */
export const RPC_PROTOCOL = 'dynamo-rpc/2'

/** Largest frame either side accepts: a small object's bytes (INLINE_MAX_BYTES and below) plus a generous head. */
export const RPC_MAX_FRAME_BYTES = 1024 * 1024

/** Bodies up to this size go over the channel; larger ones use the streaming HTTP routes. */
export const RPC_MAX_BODY_BYTES = 512 * 1024

const where = {
  bucket: z.string().min(1).max(255),
  key: z.string().min(1).max(4096),
  /** Address the hints held for this node instead of the target's own data. */
  hintFor: z.string().regex(NODE_ID_RE).optional(),
  /** When the sender sent the call (epoch ms, on the node's clock as the sender knows it): the node refines its view of the sender's clock with it. */
  sentAt: z.number().int().positive().optional(),
}

export const RpcRequestSchema = z.discriminatedUnion('op', [
  /** The frame's body is the object's bytes (none for a tombstone). */
  z.object({ op: z.literal('coordinate'), ...where, write: CoordinateRequestSchema }),
  z.object({ op: z.literal('replicate'), ...where, version: VersionSchema }),
  /** With `inline`, a node holding exactly one live small version sends its bytes as the frame's body. */
  z.object({ op: z.literal('versions'), ...where, inline: z.boolean() }),
])
export type RpcRequest = z.input<typeof RpcRequestSchema>

/** Answer of `versions`: `inline` says whether the frame's body is the only live version's bytes. */
export const RpcVersionsAnswerSchema = VersionsAnswerSchema.extend({ inline: z.boolean() })
export type RpcVersionsAnswer = z.infer<typeof RpcVersionsAnswerSchema>

export const RpcResponseSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), answer: z.unknown() }),
  z.object({ ok: z.literal(false), error: z.object({ status: z.number().int(), code: z.string(), message: z.string() }) }),
])
export type RpcResponse = z.infer<typeof RpcResponseSchema>
