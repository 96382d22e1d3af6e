/**
 * Coordinated writes (Dynamo 4.5): the first live replica of the preference list advances its own
 * counter over the client's context and stores the version; the proxy then replicates that version
 * to the other replicas and answers after W acknowledgements (the rest finish in the background).
 * Small bodies are held in memory and sent whole; large ones are streamed to every replica at once
 * (staged), then one of them coordinates and the others commit the staged bytes under that version.
 */
import { randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import { INLINE_MAX_BYTES } from '../../shared/constants.js'
import { EntityTooLargeError, QuorumNotReachedError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import type { VectorClock } from '../../shared/vclock/vector-clock.js'
import { clockOf } from '../../shared/vclock/versions.js'
import type { WriteAnswer } from '../../shared/wire/internal-api.js'
import type { MembershipView } from '../membership/membership-view.js'
import { capSize, peekBody, tee } from './body-streams.js'
import { isClientError, isNodeFailure, type NodeClient, type NodeRef, type WriteBody } from '../../shared/http/node-client.js'
import { gatherQuorum } from './quorum.js'

export interface WriteRequest {
  bucket: string
  key: string
  /** null for a tombstone. */
  body: Readable | null
  context?: VectorClock | undefined
  contentType?: string | undefined
  w: number
  requestId?: string | undefined
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
}

export interface WriteCoordinatorComponents {
  view: MembershipView
  nodes: NodeClient
  log: Logger
}

export class WriteCoordinator {
  constructor(private readonly c: WriteCoordinatorComponents, private readonly cfg: { n: number; maxObjectBytes: number }) {}

  async write(req: WriteRequest): Promise<WriteOutcome> {
    const primaries = this.c.view.preferenceList(req.bucket, req.key).slice(0, this.cfg.n)
    const targets = primaries.filter((p) => this.c.view.isUsable(p.id))
    if (targets.length < req.w) {
      req.body?.resume()
      throw new QuorumNotReachedError(req.w, [], [`only ${targets.length} of ${primaries.length} replicas are up`])
    }
    const sized = req.body ? req.body.pipe(capSize(this.cfg.maxObjectBytes)) : null
    req.body?.once('error', (err) => sized?.destroy(err))
    const peeked = sized ? await peekBody(sized, INLINE_MAX_BYTES) : ({ complete: true, head: Buffer.alloc(0) } as const)
    const answers = peeked.complete
      ? await this.writeWhole(req, targets, req.body ? { buffer: peeked.head } : null)
      : await this.writeStaged(req, targets, peeked.rest)
    const coordinator = answers[0] as WriteAnswer
    return {
      bucket: req.bucket,
      key: req.key,
      node: coordinator.node,
      pref_list: primaries.map((p) => p.id),
      replicas_written: answers.map((a) => a.node),
      hinted: [],
      vector_clock: clockOf(coordinator.version),
      vector_clocks: Object.fromEntries(answers.map((a) => [a.node, a.clock])),
    }
  }

  /** Body in hand: coordinate on the first replica that answers, then replicate to the rest. */
  private async writeWhole(req: WriteRequest, targets: NodeRef[], body: WriteBody): Promise<WriteAnswer[]> {
    const failures: string[] = []
    for (let i = 0; i < targets.length; i++) {
      const coord = targets[i] as NodeRef
      let answer: WriteAnswer
      try {
        answer = await this.c.nodes.coordinate(coord, req.bucket, req.key, this.coordinateRequest(req), body, { requestId: req.requestId })
      } catch (err) {
        this.noteFailure(coord, err, failures)
        continue
      }
      const others = targets.filter((_, j) => j !== i)
      return this.replicateRest(req, answer, others, () => body, failures)
    }
    throw new QuorumNotReachedError(req.w, [], failures)
  }

  /** Large body: stream it to every replica at once, then coordinate on one and commit the staged bytes on the others. */
  private async writeStaged(req: WriteRequest, targets: NodeRef[], body: Readable): Promise<WriteAnswer[]> {
    const uploadId = randomUUID()
    const { branches, drop } = tee(body, targets.length)
    const staged = await Promise.allSettled(
      targets.map(async (t, i) => {
        try {
          return await this.c.nodes.stage(t, uploadId, branches[i] as Readable, { requestId: req.requestId })
        } catch (err) {
          drop(i)
          throw err
        }
      }),
    )
    const failures: string[] = []
    const ready: NodeRef[] = []
    staged.forEach((s, i) => {
      if (s.status === 'fulfilled') ready.push(targets[i] as NodeRef)
      else this.noteFailure(targets[i] as NodeRef, s.reason, failures)
    })
    const tooLarge = staged.find((s) => s.status === 'rejected' && s.reason instanceof EntityTooLargeError)
    if (tooLarge || body.errored instanceof EntityTooLargeError) throw new EntityTooLargeError(`object is larger than the limit of ${this.cfg.maxObjectBytes} bytes`)
    if (body.errored) throw body.errored
    for (let i = 0; i < ready.length && ready.length - i >= req.w; i++) {
      const coord = ready[i] as NodeRef
      try {
        const answer = await this.c.nodes.coordinate(coord, req.bucket, req.key, this.coordinateRequest(req), { uploadId }, { requestId: req.requestId })
        return this.replicateRest(req, answer, ready.slice(i + 1), () => ({ uploadId }), failures)
      } catch (err) {
        this.noteFailure(coord, err, failures)
      }
    }
    throw new QuorumNotReachedError(req.w, [], failures)
  }

  private async replicateRest(req: WriteRequest, first: WriteAnswer, others: NodeRef[], body: () => WriteBody, failures: string[]): Promise<WriteAnswer[]> {
    const calls = others.map((o) => ({
      node: o.id,
      promise: this.c.nodes.replicate(o, req.bucket, req.key, first.version, body(), { requestId: req.requestId }).catch((err: unknown) => {
        this.noteFailure(o, err, failures)
        throw err
      }),
    }))
    const q = await gatherQuorum(calls, req.w - 1)
    const answers = [first, ...q.ok.map((o) => o.value)]
    if (answers.length < req.w) throw new QuorumNotReachedError(req.w, answers.map((a) => a.node), failures)
    return answers
  }

  private coordinateRequest(req: WriteRequest) {
    return { context: req.context, tombstone: req.body === null, contentType: req.contentType ?? 'application/octet-stream' }
  }

  private noteFailure(node: NodeRef, err: unknown, failures: string[]): void {
    if (isNodeFailure(err)) this.c.view.markFailed(node.id)
    if (isClientError(err)) throw err
    failures.push(err instanceof Error ? err.message : String(err))
    this.c.log.warn({ target: node.id, err: String(err) }, 'replica write failed')
  }
}

