/**
 * Coordinated writes (Dynamo 4.5-4.6): the first live target advances its own counter over the
 * client's context and stores the version; the proxy replicates that version to the other targets
 * and answers after W acknowledgements (the rest finish in the background). A primary that is
 * down, or fails on the way, is replaced by a stand-in holding a hint for it (sloppy quorum).
 * Small bodies are held in memory and sent whole; large ones are streamed to every target at once
 * (staged), then one of them coordinates and the others commit the staged bytes under that version.
 * A node below its disk reserve (507 InsufficientStorage, or gossiped as full) is "not this
 * replica": a stand-in takes the data with a hint, and the client gets 507 only when too few nodes
 * with space are left to make W. Tombstones still go to full nodes (they free space).
 */
import { createHash, randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { INLINE_MAX_BYTES } from '../../shared/constants.js'
import { EntityTooLargeError, InsufficientStorageError, QuorumNotReachedError } from '../../shared/errors.js'
import { isClientError, isNodeFailure, type NodeClient, RemoteError, type WriteBody } from '../../shared/http/node-client.js'
import type { Logger } from '../../shared/log.js'
import type { VectorClock } from '../../shared/vclock/vector-clock.js'
import { type ReadContext, clockOf, versionId } from '../../shared/vclock/versions.js'
import { etagOf, type WriteAnswer } from '../../shared/wire/internal-api.js'
import type { MembershipView } from '../membership/membership-view.js'
import { type ByteSink, capSize, peekBody, tee } from './body-streams.js'
import { gatherQuorum } from './quorum.js'
import { planTargets, replacementFor, type Target } from './sloppy-quorum.js'
import { replicaCount } from '../../shared/ring/placement.js'
import type { ObjectMetadata } from '../../shared/wire/object-metadata.js'
import { type IncarnationOf, INCARNATION_PROTOCOL } from '../buckets/incarnation.js'

/** Share of --replica-timeout-ms a coordinator has to store a write; the rest is for its commit and answer to arrive. */
const EXPIRY_SHARE = 0.8

export interface WriteRequest {
  bucket: string
  key: string
  /** null for a tombstone; a Buffer when the bytes are already in hand (small bodies). */
  body: Readable | Buffer | null
  context?: ReadContext | undefined
  contentType?: string | undefined
  /** User metadata and representation headers kept with the version. */
  meta?: ObjectMetadata | undefined
  /** The body's length when the client declared it (content-length): nodes then admit or refuse it before it streams. */
  size?: number | undefined
  w: number
  requestId?: string | undefined
  /**
   * The ETag to keep when the caller knows it (S3's multipart form for an assembled object), or a
   * getter of the MD5 the caller computes itself as the body streams (S3's Content-MD5 check),
   * called once every byte has passed; otherwise the MD5 is computed here as the body passes (see
   * VersionSchema.md5), never twice.
   */
  md5?: string | (() => string | undefined) | undefined
}

/** The write answer of SPEC.md (without `success`). */
export interface WriteOutcome {
  bucket: string
  key: string
  node: string
  pref_list: string[]
  replicas_written: string[]
  hinted: { node: string; for: string }[]
  vector_clock: VectorClock
  vector_clocks: Record<string, VectorClock>
  /** The new version's ETag (the MD5 of its bytes); absent for a delete. */
  etag?: string
}

export interface WriteCoordinatorComponents {
  view: MembershipView
  nodes: NodeClient
  log: Logger
  /** The bucket's current incarnation, recorded on every version written (proxy/buckets/incarnation.ts) once every node speaks protocol 3. */
  incarnationOf?: IncarnationOf | undefined
}

interface Acked {
  target: Target
  answer: WriteAnswer
}

export class WriteCoordinator {
  constructor(
    private readonly c: WriteCoordinatorComponents,
    private readonly cfg: { n: number; maxObjectBytes: number; postQuorumMs: number; replicaTimeoutMs: number },
  ) {}

  async write(req: WriteRequest): Promise<WriteOutcome> {
    const prefs = this.c.view.preferenceList(req.bucket, req.key)
    // New data goes only to nodes with space; a tombstone to every live one.
    const plan = planTargets(prefs, replicaCount(req.bucket, this.cfg.n, prefs.length), (id) => (req.body === null ? this.c.view.isUsable(id) : this.c.view.takesData(id)))
    if (plan.targets.length < req.w) {
      if (req.body && !Buffer.isBuffer(req.body)) req.body.resume()
      const live = prefs.filter((p) => this.c.view.isUsable(p.id)).length
      if (live >= req.w) throw new InsufficientStorageError(`only ${plan.targets.length} nodes with free space can take this key, ${req.w} needed: the others are below their disk reserve`)
      throw new QuorumNotReachedError(req.w, [], [`only ${plan.targets.length} live nodes can take this key (of ${plan.primaries.length} replicas and their fallbacks)`])
    }
    const hash = req.md5 === undefined && req.body !== null ? createHash('md5') : undefined
    // Final once every byte has passed, which is before the first coordinate call on both paths;
    // bytes still draining after that (a body every replica refused) are not fed to it.
    let md5: string | undefined
    let digested = false
    const md5Of = () => {
      if (!digested) md5 = typeof req.md5 === 'function' ? req.md5() : (req.md5 ?? hash?.digest('hex'))
      digested = true
      return md5
    }
    const peeked = await this.peek(req.body, hash && { update: (chunk: Buffer) => void (digested || hash.update(chunk)) })
    const acked = peeked.complete
      ? await this.writeWhole(req, md5Of, plan.targets, plan.spares, plan.extraHints, req.body ? { buffer: peeked.head } : null)
      : await this.writeStaged(req, md5Of, plan.targets, plan.spares, plan.extraHints, peeked.rest)
    const first = acked[0] as Acked
    return {
      bucket: req.bucket,
      key: req.key,
      node: first.answer.node,
      pref_list: plan.primaries.map((p) => p.id),
      replicas_written: [...new Set(acked.map((a) => a.answer.node))],
      hinted: acked.flatMap((a) => (a.target.hintFor ? [{ node: a.answer.node, for: a.target.hintFor }] : [])),
      vector_clock: clockOf(first.answer.version),
      vector_clocks: clocksByNode(acked),
      ...(first.answer.version.tombstone ? {} : { etag: etagOf(first.answer.version) }),
    }
  }

  /** The whole body when it is small (or a tombstone's none), else the stream to stage; `md5` sees every byte once. */
  private async peek(body: Readable | Buffer | null, md5: ByteSink | undefined): Promise<{ complete: true; head: Buffer } | { complete: false; rest: Readable }> {
    if (body === null) return { complete: true, head: Buffer.alloc(0) }
    if (Buffer.isBuffer(body)) {
      if (body.length > this.cfg.maxObjectBytes) throw new EntityTooLargeError(`object is larger than the limit of ${this.cfg.maxObjectBytes} bytes`)
      md5?.update(body)
      return body.length <= INLINE_MAX_BYTES ? { complete: true, head: body } : { complete: false, rest: Readable.from([body]) }
    }
    const sized = body.pipe(capSize(this.cfg.maxObjectBytes, md5))
    body.once('error', (err) => sized.destroy(err))
    return peekBody(sized, INLINE_MAX_BYTES)
  }

  /** Body in hand: coordinate on the first target that answers, then replicate to the rest; failed targets get stand-ins. */
  private async writeWhole(req: WriteRequest, md5Of: () => string | undefined, targets: Target[], spares: Target['node'][], extraHints: Target[], body: WriteBody): Promise<Acked[]> {
    const failures = new WriteFailures()
    const md5 = md5Of()
    // A live primary coordinates when there is one: a stand-in coordinates in its (empty) hint space,
    // so a plain re-upload through it would become a sibling instead of an update.
    const queue = [...targets].sort((a, b) => Number(a.hintFor !== undefined) - Number(b.hintFor !== undefined))
    while (queue.length > 0) {
      const target = queue.shift() as Target
      let answer: WriteAnswer
      try {
        answer = await this.c.nodes.coordinate(target.node, req.bucket, req.key, this.coordinateRequest(req, md5), body, this.callOptions(req, target))
      } catch (err) {
        this.noteFailure(target, err, failures)
        const stand = replacementFor(target, spares)
        if (stand) queue.push(stand)
        continue
      }
      const replicate = async (t: Target): Promise<Acked> => {
        try {
          return { target: t, answer: await this.c.nodes.replicate(t.node, req.bucket, req.key, answer.version, body, this.callOptions(req, t)) }
        } catch (err) {
          this.noteFailure(t, err, failures)
          const stand = replacementFor(t, spares)
          if (!stand) throw err
          return replicate(stand)
        }
      }
      const extras = extraHints.map(async (t) => ({
        target: t,
        answer: await this.c.nodes.replicate(t.node, req.bucket, req.key, answer.version, body, this.callOptions(req, t)),
      }))
      const expectHints = targets.some((t) => t.hintFor !== undefined) || extras.length > 0 || failures.count > 0
      return this.quorum(req, { target, answer }, queue.map(replicate), failures, extras, expectHints)
    }
    throw failures.quorumError(req.w, [])
  }

  /** Large body: stream it to every target at once, then coordinate on one and commit the staged bytes on the others. */
  private async writeStaged(req: WriteRequest, md5Of: () => string | undefined, targets: Target[], spares: Target['node'][], extraHints: Target[], body: Readable): Promise<Acked[]> {
    const uploadId = randomUUID()
    const { branches, drop } = tee(body, targets.length)
    const staged = await Promise.allSettled(
      targets.map(async (t, i) => {
        try {
          return await this.c.nodes.stage(t.node, uploadId, branches[i] as Readable, this.callOptions(req), Buffer.isBuffer(req.body) ? req.body.length : req.size)
        } catch (err) {
          drop(i)
          throw err
        }
      }),
    )
    // The client's body failed (aborted, over the limit): that says nothing about the replicas.
    if (body.errored) throw body.errored
    const failures = new WriteFailures()
    const ready: Target[] = []
    // A body one replica refused while another took it says nothing about the client's request (a
    // replica that failed mid-body answers all sorts): only a refusal by every replica is the client's.
    const someStaged = staged.some((s) => s.status === 'fulfilled')
    staged.forEach((s, i) => {
      if (s.status === 'fulfilled') ready.push(targets[i] as Target)
      else this.noteFailure(targets[i] as Target, s.reason, failures, someStaged)
    })
    ready.sort((a, b) => Number(a.hintFor !== undefined) - Number(b.hintFor !== undefined))
    // A staged replica read the body to its end, so every byte has passed the hash.
    const md5 = ready.length > 0 ? md5Of() : undefined
    for (let i = 0; i < ready.length && ready.length - i >= req.w; i++) {
      const target = ready[i] as Target
      try {
        const answer = await this.c.nodes.coordinate(target.node, req.bucket, req.key, this.coordinateRequest(req, md5), { uploadId }, this.callOptions(req, target))
        const rest = ready.slice(i + 1).map(async (t) => ({
          target: t,
          answer: await this.c.nodes.replicate(t.node, req.bucket, req.key, answer.version, { uploadId }, this.callOptions(req, t)).catch((err: unknown) => {
            this.noteFailure(t, err, failures)
            throw err
          }),
        }))
        const acked = await this.quorum(
          req,
          { target, answer },
          rest,
          failures,
          [],
          ready.some((t) => t.hintFor !== undefined),
        )
        // Replicas left without the version: failed while staging, failed to coordinate before
        // `target` did, or failed to commit (known once every commit has settled).
        const lost = [...targets.filter((_, j) => staged[j]?.status === 'rejected'), ...ready.slice(0, i)]
        const committing = ready.slice(i + 1)
        // Primaries left without a stand-in (more unavailable than fallbacks) get a hint on a live
        // target, as small writes do, so they are handed their copy when they return.
        for (const extra of extraHints) void this.copyToStandIn(req, answer.version, acked, extra)
        void Promise.allSettled(rest).then((settled) => {
          for (const t of [...lost, ...committing.filter((_, j) => settled[j]?.status === 'rejected')]) {
            const stand = replacementFor(t, spares)
            if (stand) void this.copyToStandIn(req, answer.version, acked, stand)
          }
        })
        return acked
      } catch (err) {
        this.noteFailure(target, err, failures)
      }
    }
    throw failures.quorumError(req.w, [])
  }

  /**
   * A target that failed while a large body streamed to it cannot be sent the bytes again (they
   * were not kept), so once the write has its quorum a stand-in copies them from a replica that
   * has them and keeps a hint: the failed replica is then handed its copy when it returns, as for
   * small writes, instead of waiting for a read to repair it. Background; logged.
   */
  private async copyToStandIn(req: WriteRequest, version: WriteAnswer['version'], acked: readonly Acked[], stand: Target): Promise<void> {
    const source = acked[0]
    if (!source) return
    try {
      const bytes = await this.c.nodes.openData(source.target.node, req.bucket, req.key, versionId(version.dot), this.callOptions(req, source.target))
      await this.c.nodes.replicate(stand.node, req.bucket, req.key, version, { stream: bytes }, { requestId: req.requestId, hintFor: stand.hintFor })
      this.c.log.info({ bucket: req.bucket, key: req.key, standIn: stand.node.id, hintFor: stand.hintFor }, 'stand-in took a replica the upload could not place')
    } catch (err) {
      if (isNodeFailure(err)) this.c.view.markFailed(stand.node.id)
      if (isOutOfSpace(err)) this.c.view.markFull(stand.node.id)
      this.c.log.warn({ bucket: req.bucket, key: req.key, standIn: stand.node.id, hintFor: stand.hintFor, err: String(err) }, 'stand-in copy after a failed upload failed')
    }
  }

  /**
   * Wait for W acknowledgements (`first` and `rest`; `extras` never count), then, as Swift's
   * post_quorum_timeout does, a moment more for the stragglers, so the answer names every replica
   * and hint written by then. The others finish in the background.
   */
  private async quorum(req: WriteRequest, first: Acked, rest: Promise<Acked>[], failures: WriteFailures, extras: Promise<Acked>[], expectHints: boolean): Promise<Acked[]> {
    const acked: Acked[] = [first]
    for (const p of [...rest, ...extras])
      p.then(
        (a) => acked.push(a),
        () => undefined,
      )
    const q = await gatherQuorum(
      rest.map((promise, i) => ({ node: String(i), promise })),
      req.w - 1,
    )
    if (1 + q.ok.length < req.w)
      throw failures.quorumError(
        req.w,
        [first, ...q.ok.map((o) => o.value)].map((a) => a.answer.node),
      )
    // Only a write with stand-ins (or failures that may have brought some) waits: its answer should
    // name the hints it left. A healthy write answers at W.
    if ((expectHints || failures.count > 0) && this.cfg.postQuorumMs > 0) {
      await Promise.race([Promise.allSettled([...rest, ...extras]), new Promise((r) => setTimeout(r, this.cfg.postQuorumMs).unref())])
    }
    return acked
  }

  /** One id per client request: a retry on another coordinator carries the same one. */
  private readonly writeIds = new WeakMap<WriteRequest, string>()

  private coordinateRequest(req: WriteRequest, md5: string | undefined) {
    let writeId = this.writeIds.get(req)
    const retried = writeId !== undefined
    if (!writeId) {
      writeId = randomUUID()
      this.writeIds.set(req, writeId)
    }
    // The node must have stored the write well before this proxy stops waiting for it (see expiresAt).
    const expiresAt = Date.now() + Math.floor(this.cfg.replicaTimeoutMs * EXPIRY_SHARE)
    const context = req.context && { vv: req.context.vv, dots: req.context.dots }
    const request = { context, tombstone: req.body === null, contentType: req.contentType ?? 'application/octet-stream', writeId, expiresAt }
    // A retry's version is marked: once it is read and overwritten, the first attempt's copy (if
    // that coordinator stored it after all) is superseded with it (see supersedes). What the
    // client's read retired goes along, for a coordinator that does not hold those versions.
    const retired = req.context?.retired?.length ? { retired: [...req.context.retired] } : {}
    const meta = req.body === null ? undefined : this.metaOf(req.bucket, req.meta)
    return { ...request, ...retired, ...(retried ? { retried: true as const } : {}), ...(md5 ? { md5 } : {}), ...(meta ? { meta } : {}) }
  }

  /** The version's metadata: the caller's, with the bucket's incarnation when every node can keep it (an older node would drop it). */
  private metaOf(bucket: string, meta: ObjectMetadata | undefined): ObjectMetadata | undefined {
    const { incarnation: _theirs, ...rest } = meta ?? {}
    const current = this.c.incarnationOf?.(bucket)
    const incarnation = current !== undefined && this.c.view.negotiatedProtocol() >= INCARNATION_PROTOCOL ? current : undefined
    const out: ObjectMetadata = incarnation === undefined ? rest : { ...rest, incarnation }
    return Object.keys(out).length > 0 ? out : undefined
  }

  private callOptions(req: WriteRequest, target?: Target) {
    return { requestId: req.requestId, hintFor: target?.hintFor, timeoutMs: this.cfg.replicaTimeoutMs }
  }

  /** `replicaOnly`: a client error is this replica's failure, not the request's (see writeStaged). */
  private noteFailure(target: Target, err: unknown, failures: WriteFailures, replicaOnly = false): void {
    if (isNodeFailure(err)) this.c.view.markFailed(target.node.id)
    if (isOutOfSpace(err)) this.c.view.markFull(target.node.id)
    if (isClientError(err) && !replicaOnly) throw err
    failures.add(err)
    this.c.log.warn({ target: target.node.id, hintFor: target.hintFor, err: String(err) }, 'replica write failed')
  }
}

/** A node's answer that it is below its disk reserve. */
function isOutOfSpace(err: unknown): boolean {
  return err instanceof RemoteError && err.code === 'InsufficientStorage'
}

/** Why replicas failed a write, and the error the client gets when too few took it. */
class WriteFailures {
  private readonly messages: string[] = []
  private outOfSpace = 0

  add(err: unknown): void {
    this.messages.push(err instanceof Error ? err.message : String(err))
    if (isOutOfSpace(err)) this.outOfSpace++
  }

  get count(): number {
    return this.messages.length
  }

  /** 507 when every failure was a node out of space (no replica could take it), else 503. */
  quorumError(w: number, reached: readonly string[]): Error {
    if (this.outOfSpace > 0 && this.outOfSpace === this.messages.length) {
      return new InsufficientStorageError(`only ${reached.length} of the ${w} replicas needed had space: the others are below their disk reserve`)
    }
    return new QuorumNotReachedError(w, reached, this.messages)
  }
}

/** The clock each written node now holds; a node that stored both its own replica and a hint shows its own. */
function clocksByNode(acked: readonly Acked[]): Record<string, VectorClock> {
  const out: Record<string, VectorClock> = {}
  for (const a of acked) if (!(a.answer.node in out) || !a.target.hintFor) out[a.answer.node] = a.answer.clock
  return out
}
