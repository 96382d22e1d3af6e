/**
 * Typed client of the storage nodes' internal API: one function per route, target node first.
 * Non-2xx answers become RemoteError; transport failures become NodeUnreachableError, which the
 * membership view uses to mark the node down locally for a moment.
 */
import { performance } from 'node:perf_hooks'
import { Readable } from 'node:stream'
import type { z } from 'zod'
import { clientErrorFromCode, EntityTooLargeError, StoreError } from '../errors.js'
import type { RpcClient } from '../rpc/rpc-client.js'
import { HEADER_HINT_FOR, HEADER_REQUEST_ID, HEADER_UPLOAD, HEADER_VERSION, HEADER_VERSIONS, HEADER_WRITE } from '../wire/headers.js'
import {
  type ByteSpan,
  type CoordinateRequest,
  type Dot,
  decodeHeaderJson,
  encodeHeaderJson,
  encodeRangeQuery,
  internalRoutes,
  type ListAnswer,
  ListAnswerSchema,
  type NodeHealth,
  NodeHealthSchema,
  type ReapAnswer,
  ReapAnswerSchema,
  type SegmentDigestsAnswer,
  SegmentDigestsAnswerSchema,
  type SegmentKeysAnswer,
  SegmentKeysAnswerSchema,
  type StageAnswer,
  StageAnswerSchema,
  type Version,
  type VersionsAnswer,
  VersionsAnswerSchema,
  type WriteAnswer,
  WriteAnswerSchema,
} from '../wire/internal-api.js'
import { type MembershipAnswer, MembershipAnswerSchema } from '../wire/membership.js'
import { HEADER_PROTOCOL, PROTOCOL_VERSION } from '../wire/protocol.js'
import { type RingAnswer, RingAnswerSchema, type RingChangeRequest } from '../wire/ring.js'
import { RPC_MAX_BODY_BYTES, type RpcRequest, RpcVersionsAnswerSchema } from '../wire/rpc.js'
import { type TransferHaveAnswer, TransferHaveAnswerSchema } from '../wire/transfer.js'
import type { InternalRequest, InternalTransport } from './internal-transport.js'
import { currentTiming, UNREACHABLE_STATUS } from './request-timing.js'

/** Sent on calls whose answer shows ring states, so the node shows this build what it can read (shared/wire/ring.ts forProtocol). */
const ANNOUNCE_PROTOCOL = { [HEADER_PROTOCOL]: String(PROTOCOL_VERSION) }
export interface NodeRef {
  readonly id: string
  readonly address: string
}

/** A node answered, with an error. */
export class RemoteError extends Error {
  constructor(
    readonly node: string,
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${node}: ${status} ${code}: ${message}`)
  }
}

/** The node could not be reached, or went silent. */
export class NodeUnreachableError extends Error {
  constructor(
    readonly node: string,
    cause: unknown,
  ) {
    super(`${node} unreachable: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
}

/** Where a write's bytes come from: a buffer, a stream, a body staged earlier on the node, or none (tombstone). */
export type WriteBody = { buffer: Buffer } | { stream: Readable } | { uploadId: string } | null

export interface CallOptions {
  requestId?: string | undefined
  signal?: AbortSignal
  /** Bound on the whole call (small bodies only: a streamed body is bounded by the idle timeout). */
  timeoutMs?: number | undefined
  /** Address the hints held for this node instead of the target's own data. */
  hintFor?: string | undefined
}

/** Timeout of small metadata calls; streamed bodies have only the socket idle timeout. */
const METADATA_TIMEOUT_MS = 5000
/** Bound on a small write sent without a timeout of its own (handoff, repairs): the HTTP transport's idle timeout. */
const SMALL_WRITE_TIMEOUT_MS = 10_000
/**
 * How long a holder may take to start answering with a version's bytes before the reader tries
 * the next one (a paused node otherwise holds a read for the whole socket idle timeout). Once
 * bytes flow, only the idle timeout applies.
 */
const DATA_FIRST_BYTE_TIMEOUT_MS = 2000

export class NodeClient {
  /** Small writes and reads go over `rpc` when given (one multiplexed channel per node), else each is an HTTP request. */
  constructor(
    private readonly transport: InternalTransport,
    private readonly rpc?: RpcClient,
  ) {}

  close(): void {
    this.rpc?.close()
    this.transport.close()
  }

  /** The clock of the node at `address` minus ours, once it has answered a signed request. */
  clockOffset(address: string): number | undefined {
    return this.transport.signer.clocks.all().find((c) => c.address === address)?.offsetMs
  }

  /** One call over the RPC channel: transport failures are NodeUnreachableError, error answers the same errors as over HTTP. */
  private async rpcCall<S extends z.ZodType>(rpc: RpcClient, node: NodeRef, schema: S, req: RpcRequest, body: Buffer | undefined, timeoutMs: number): Promise<{ answer: z.output<S>; body: Buffer }> {
    let reply: Awaited<ReturnType<RpcClient['call']>>
    const timing = currentTiming()
    const startedAt = timing ? performance.now() : 0
    try {
      reply = await rpc.call(node.id, node.address, req, body, timeoutMs)
    } catch (err) {
      timing?.replicaCall(node.id, UNREACHABLE_STATUS, startedAt)
      throw new NodeUnreachableError(node.id, err)
    }
    timing?.replicaCall(node.id, reply.response.ok ? 200 : reply.response.error.status, startedAt)
    if (!reply.response.ok) throw remoteError(node, reply.response.error.status, reply.response.error.code, reply.response.error.message)
    return { answer: schema.parse(reply.response.answer), body: reply.body }
  }

  private headers(opts: CallOptions | undefined, extra: Record<string, string> = {}): Record<string, string> {
    const h = { ...extra }
    if (opts?.requestId) h[HEADER_REQUEST_ID] = opts.requestId
    if (opts?.hintFor) h[HEADER_HINT_FOR] = opts.hintFor
    return h
  }

  private async call<S extends z.ZodType>(node: NodeRef, schema: S, r: Omit<InternalRequest, 'address'>): Promise<z.output<S>> {
    let res: { status: number; body: string }
    const timing = currentTiming()
    const startedAt = timing ? performance.now() : 0
    try {
      res = await this.transport.text({ ...r, address: node.address, target: node.id })
    } catch (err) {
      timing?.replicaCall(node.id, UNREACHABLE_STATUS, startedAt)
      throw new NodeUnreachableError(node.id, err)
    }
    timing?.replicaCall(node.id, res.status, startedAt)
    if (res.status >= 300) throw toRemoteError(node, res.status, res.body)
    return schema.parse(JSON.parse(res.body))
  }

  /**
   * Stream a body to stage on the node. `size`, the body's length when known, goes as its
   * content-length: a node without room for it then refuses it (507) before its first byte.
   */
  stage(node: NodeRef, uploadId: string, body: Readable, opts?: CallOptions, size?: number): Promise<StageAnswer> {
    const length: Record<string, string> = size === undefined ? {} : { 'content-length': String(size) }
    return this.call(node, StageAnswerSchema, { method: 'PUT', path: internalRoutes.stage.path(uploadId), body, headers: this.headers(opts, length) })
  }

  coordinate(node: NodeRef, bucket: string, key: string, write: CoordinateRequest, body: WriteBody, opts?: CallOptions): Promise<WriteAnswer> {
    // The expiry is read on the node's clock: moved onto it as far as we know it (the node refines it).
    const req = write.expiresAt === undefined ? write : { ...write, expiresAt: write.expiresAt + this.transport.signer.clocks.offset(node.address) }
    const small = this.rpcBody(body)
    if (this.rpc && small) return this.rpcWrite(this.rpc, node, { op: 'coordinate', bucket, key, hintFor: opts?.hintFor, write: req }, small.bytes, opts)
    return this.write(node, internalRoutes.coordinate.path(bucket, key), { [HEADER_WRITE]: encodeHeaderJson(req) }, body, opts)
  }

  replicate(node: NodeRef, bucket: string, key: string, version: Version, body: WriteBody, opts?: CallOptions): Promise<WriteAnswer> {
    const small = this.rpcBody(body)
    if (this.rpc && small) return this.rpcWrite(this.rpc, node, { op: 'replicate', bucket, key, hintFor: opts?.hintFor, version }, small.bytes, opts)
    return this.write(node, internalRoutes.replicate.path(bucket, key), { [HEADER_VERSION]: encodeHeaderJson(version) }, body, opts)
  }

  /** The bytes of a body small enough for the RPC channel (a tombstone's none), or undefined. */
  private rpcBody(body: WriteBody): { bytes: Buffer | undefined } | undefined {
    if (body === null) return { bytes: undefined }
    if ('buffer' in body && body.buffer.length <= RPC_MAX_BODY_BYTES) return { bytes: body.buffer }
    return undefined
  }

  private async rpcWrite(rpc: RpcClient, node: NodeRef, req: RpcRequest, bytes: Buffer | undefined, opts?: CallOptions): Promise<WriteAnswer> {
    return (await this.rpcCall(rpc, node, WriteAnswerSchema, req, bytes, opts?.timeoutMs ?? SMALL_WRITE_TIMEOUT_MS)).answer
  }

  private write(node: NodeRef, path: string, meta: Record<string, string>, body: WriteBody, opts?: CallOptions): Promise<WriteAnswer> {
    const headers = this.headers(opts, body && 'uploadId' in body ? { ...meta, [HEADER_UPLOAD]: body.uploadId } : meta)
    const payload = body && 'buffer' in body ? body.buffer : body && 'stream' in body ? body.stream : undefined
    const totalTimeoutMs = body && 'stream' in body ? undefined : opts?.timeoutMs
    return this.call(node, WriteAnswerSchema, { method: 'PUT', path, body: payload ?? Buffer.alloc(0), headers, ...(totalTimeoutMs ? { totalTimeoutMs } : {}) })
  }

  reap(node: NodeRef, bucket: string, key: string, dots: readonly Dot[], opts?: CallOptions): Promise<ReapAnswer> {
    return this.call(node, ReapAnswerSchema, {
      method: 'POST',
      path: internalRoutes.reap.path(bucket, key),
      body: JSON.stringify({ dots }),
      headers: this.headers(opts, { 'content-type': 'application/json' }),
      totalTimeoutMs: METADATA_TIMEOUT_MS,
    })
  }

  /** Anti-entropy: the node's digests of `segments`, over the keys it replicates with `peer`. */
  segmentDigests(node: NodeRef, peer: string, segments: readonly number[]): Promise<SegmentDigestsAnswer> {
    return this.antiEntropyCall(node, SegmentDigestsAnswerSchema, internalRoutes.segmentDigests.path(), { peer, segments })
  }

  /** Anti-entropy: the keys of one segment the node replicates with `peer`, with the version ids it holds. */
  segmentKeys(node: NodeRef, peer: string, segment: number): Promise<SegmentKeysAnswer> {
    return this.antiEntropyCall(node, SegmentKeysAnswerSchema, internalRoutes.segmentKeys.path(), { peer, segment })
  }

  /** Ownership transfer: the ids of the versions `node` holds for each key (its own data). */
  transferHave(node: NodeRef, keys: readonly { bucket: string; key: string }[]): Promise<TransferHaveAnswer> {
    return this.antiEntropyCall(node, TransferHaveAnswerSchema, internalRoutes.transferHave.path(), { keys })
  }

  /** An operator's ring change, applied by `node` and spread by its gossip; its ring record after. */
  ringChange(node: NodeRef, change: RingChangeRequest): Promise<RingAnswer> {
    return this.antiEntropyCall(node, RingAnswerSchema, internalRoutes.ringChange.path(), change)
  }

  private antiEntropyCall<S extends z.ZodType>(node: NodeRef, schema: S, path: string, request: object): Promise<z.output<S>> {
    return this.call(node, schema, {
      method: 'POST',
      path,
      body: JSON.stringify(request),
      headers: { 'content-type': 'application/json', ...ANNOUNCE_PROTOCOL },
      totalTimeoutMs: METADATA_TIMEOUT_MS * 2,
    })
  }

  async versions(node: NodeRef, bucket: string, key: string, opts?: CallOptions): Promise<VersionsAnswer> {
    if (this.rpc) {
      const { answer } = await this.rpcCall(this.rpc, node, RpcVersionsAnswerSchema, { op: 'versions', bucket, key, hintFor: opts?.hintFor, inline: false }, undefined, METADATA_TIMEOUT_MS)
      return { node: answer.node, versions: answer.versions }
    }
    const q = opts?.hintFor ? `?hint_for=${encodeURIComponent(opts.hintFor)}` : ''
    return this.call(node, VersionsAnswerSchema, { method: 'GET', path: `${internalRoutes.versions.path(bucket, key)}${q}`, headers: this.headers(opts), totalTimeoutMs: METADATA_TIMEOUT_MS })
  }

  /** The versions held, and when the node holds exactly one live small version, its bytes too (one request instead of two). */
  async versionsWithData(node: NodeRef, bucket: string, key: string, opts?: CallOptions): Promise<VersionsAnswer & { data?: Buffer }> {
    if (this.rpc) {
      const { answer, body } = await this.rpcCall(this.rpc, node, RpcVersionsAnswerSchema, { op: 'versions', bucket, key, hintFor: opts?.hintFor, inline: true }, undefined, METADATA_TIMEOUT_MS)
      return answer.inline ? { node: answer.node, versions: answer.versions, data: body } : { node: answer.node, versions: answer.versions }
    }
    const params = new URLSearchParams({ inline: '1' })
    if (opts?.hintFor) params.set('hint_for', opts.hintFor)
    let res: Awaited<ReturnType<InternalTransport['request']>>
    const chunks: Buffer[] = []
    try {
      res = await this.transport.request({
        address: node.address,
        target: node.id,
        method: 'GET',
        path: `${internalRoutes.versions.path(bucket, key)}?${params}`,
        headers: this.headers(opts),
        totalTimeoutMs: METADATA_TIMEOUT_MS,
      })
      for await (const c of res as AsyncIterable<Buffer>) chunks.push(c)
    } catch (err) {
      throw new NodeUnreachableError(node.id, err)
    }
    const body = Buffer.concat(chunks)
    if ((res.statusCode ?? 0) >= 300) throw toRemoteError(node, res.statusCode ?? 0, body.toString('utf8'))
    const meta = res.headers[HEADER_VERSIONS]
    if (typeof meta === 'string') {
      const parsed = decodeHeaderJson(VersionsAnswerSchema, meta)
      if (!parsed.success) throw new RemoteError(node.id, 502, 'BadAnswer', 'malformed versions header')
      return { ...parsed.data, data: body }
    }
    return VersionsAnswerSchema.parse(JSON.parse(body.toString('utf8')))
  }

  list(node: NodeRef, bucket: string, q: { prefix: string; after?: string | undefined; limit: number }, opts?: CallOptions): Promise<ListAnswer> {
    const params = new URLSearchParams({ prefix: q.prefix, limit: String(q.limit) })
    if (q.after !== undefined) params.set('after', q.after)
    return this.call(node, ListAnswerSchema, { method: 'GET', path: `${internalRoutes.list.path(bucket)}?${params}`, headers: this.headers(opts), totalTimeoutMs: METADATA_TIMEOUT_MS * 2 })
  }

  health(node: NodeRef): Promise<NodeHealth> {
    return this.call(node, NodeHealthSchema, { method: 'GET', path: '/health', headers: ANNOUNCE_PROTOCOL, totalTimeoutMs: 2000 })
  }

  /** The open membership view of the node at `address` (its id may not be known yet). */
  membership(address: string): Promise<MembershipAnswer> {
    return this.call({ id: address, address }, MembershipAnswerSchema, { method: 'GET', path: '/membership', headers: ANNOUNCE_PROTOCOL, totalTimeoutMs: 2000 })
  }

  /**
   * Open a version's bytes (with `range`, those only); resolves once the node has answered (so a
   * failure can still try another holder). A node that predates ranges answers 200 with every
   * byte: the span is then cut out here.
   */
  async openData(node: NodeRef, bucket: string, key: string, versionId: string, opts?: CallOptions & { range?: ByteSpan | undefined }): Promise<Readable> {
    const params = new URLSearchParams()
    if (opts?.hintFor) params.set('hint_for', opts.hintFor)
    if (opts?.range) params.set('range', encodeRangeQuery(opts.range))
    const q = params.size > 0 ? `?${params}` : ''
    let res: Awaited<ReturnType<InternalTransport['request']>>
    try {
      res = await this.transport.request({
        address: node.address,
        target: node.id,
        method: 'GET',
        path: `${internalRoutes.data.path(bucket, key, versionId)}${q}`,
        headers: this.headers(opts),
        totalTimeoutMs: DATA_FIRST_BYTE_TIMEOUT_MS,
      })
    } catch (err) {
      throw new NodeUnreachableError(node.id, err)
    }
    if (res.statusCode === 206 && opts?.range) return res
    if (res.statusCode === 200) return opts?.range ? sliceBytes(res, opts.range) : res
    let text = ''
    res.setEncoding('utf8')
    for await (const chunk of res) text += chunk
    throw toRemoteError(node, res.statusCode ?? 0, text)
  }
}

/** The bytes of `span` out of a stream of the whole object; stops reading (and closes it) once past the span. */
function sliceBytes(source: Readable, span: ByteSpan): Readable {
  async function* cut() {
    let at = 0
    for await (const chunk of source as AsyncIterable<Buffer>) {
      const from = Math.max(0, span.start - at)
      const to = Math.min(chunk.length, span.end + 1 - at)
      at += chunk.length
      if (to > from) yield chunk.subarray(from, to)
      if (at > span.end) return
    }
  }
  return Readable.from(cut(), { objectMode: false })
}

function toRemoteError(node: NodeRef, status: number, body: string): Error {
  let code = 'Unknown'
  let message = body.slice(0, 300)
  try {
    const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } }
    code = parsed.error?.code ?? code
    message = parsed.error?.message ?? message
  } catch {}
  return remoteError(node, status, code, message)
}

/** The error a node's error answer stands for: the client's own error when it is one, else a RemoteError. */
function remoteError(node: NodeRef, status: number, code: string, message: string): Error {
  if (status === 413) return new EntityTooLargeError(message)
  const known = status < 500 && status !== 401 ? clientErrorFromCode(code, message) : undefined
  return known ?? new RemoteError(node.id, status, code, message)
}

/** True for an error about the request itself (the client's fault), which no other replica would answer differently. */
export function isClientError(err: unknown): err is StoreError {
  return err instanceof StoreError && err.status < 500
}

/** 5xx answers that say nothing about the node's health. */
// WriteExpired is not among them: a node that answers it before the proxy gave up is too slow (or its
// clock too far off) to coordinate now, and is skipped for a moment like one that timed out.
// InsufficientStorage: the node is below its disk reserve, and serves everything but new data.
const ANSWERS_OF_A_HEALTHY_NODE = new Set(['HintStoreFull', 'InsufficientStorage', 'CorruptReplica', 'AnswerTooLarge'])

/** True for errors that say something about the node's health rather than the request. */
export function isNodeFailure(err: unknown): boolean {
  return err instanceof NodeUnreachableError || (err instanceof RemoteError && err.status >= 500 && !ANSWERS_OF_A_HEALTHY_NODE.has(err.code))
}
