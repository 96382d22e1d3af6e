/**
 * A member's check of member signatures (shared/http/signing.ts): made for this node (for gossip, for
 * any member), fresh on our clock, and used once. One per node, shared by the HTTP routes
 * (routes/auth.ts) and the RPC channel's upgrades (rpc/rpc-server.ts). During a rotation of the
 * cluster secret it accepts signatures made with either of two secrets, and answers each request
 * with the secret it was signed with.
 */
import { ANY_MEMBER, checkSignature, type HeaderOf, type MemberKeys, type Refusal, ReplayGuard, timeProof } from './signing.js'
import { HEADER_FROM, HEADER_NONCE, HEADER_TIME, HEADER_TIME_PROOF, HEADER_TIMESTAMP } from '../wire/headers.js'
import { internalRoutes } from '../wire/internal-api.js'
/** Learns each sender's clock from the timestamps of its accepted requests (a node's ClockOffsets). */
export interface OffsetSampler {
  sample(sender: string, sentAtMs: number, receivedAtMs?: number): void
}

const GOSSIP_PATH = internalRoutes.gossip.path()

export interface Verified {
  /** The signing member's id. */
  from: string
  /** The keys the request was signed with (of those this member accepts): its answer's proofs and an RPC channel's keys use them, so the sender can check them. */
  keys: MemberKeys
  /** Time headers for the answer: our clock, proven for the request's nonce. */
  answerHeaders: Record<string, string>
}

/** Checks member signatures and remembers accepted nonces; one per node, shared by the HTTP routes and RPC upgrades. */
export class RequestVerifier {
  private readonly replays: ReplayGuard
  private readonly targets: string[]
  private readonly gossipTargets: string[]

  /**
   * `keys`: those of the current cluster secret first, then any secret being rotated (acceptedKeys()).
   * `offsets`, when given, learns each sender's clock from the timestamps of its accepted requests.
   */
  constructor(
    readonly keys: readonly MemberKeys[],
    selfId: string,
    selfAddress: string,
    private readonly now: () => number = Date.now,
    private readonly offsets?: OffsetSampler,
  ) {
    if (keys.length === 0) throw new Error('a request verifier needs the cluster secret')
    this.replays = new ReplayGuard()
    this.targets = [selfId, selfAddress]
    this.gossipTargets = [selfId, selfAddress, ANY_MEMBER]
  }

  /**
   * The request's sender, or why it is refused. A refusal of a well-signed request for its
   * timestamp carries our time (`answerHeaders`), so the sender can sign on our clock.
   */
  verify(method: string, url: string, header: HeaderOf): { ok: Verified } | { refused: Refusal; answerHeaders?: Record<string, string> } {
    const at = this.now()
    const nonce = header(HEADER_NONCE) ?? ''
    const gossip = method === 'POST' && url === GOSSIP_PATH
    const targets = gossip ? this.gossipTargets : this.targets
    // The current secret first: with one secret (no rotation under way), one HMAC as before.
    let keys = this.keys[0] as MemberKeys
    let refused = checkSignature(keys, method, url, header, targets, at)
    for (let i = 1; refused?.why === 'bad signature' && i < this.keys.length; i++) {
      keys = this.keys[i] as MemberKeys
      refused = checkSignature(keys, method, url, header, targets, at)
    }
    if (refused) return refused.why === 'stale signature' ? { refused, answerHeaders: this.timeHeaders(keys, nonce, at) } : { refused }
    const ts = Number(header(HEADER_TIMESTAMP))
    // Only a verified request's nonce is remembered: unsigned traffic cannot fill the guard.
    if (!this.replays.firstUse(nonce)) return { refused: { why: 'replayed request' } }
    const from = header(HEADER_FROM) as string
    this.offsets?.sample(from, ts, at)
    return { ok: { from, keys, answerHeaders: this.timeHeaders(keys, nonce, at) } }
  }

  /** Our time, proven with the keys the request was signed with (a sender checks with the secret it signs with first). */
  private timeHeaders(keys: MemberKeys, nonce: string, at: number): Record<string, string> {
    return { [HEADER_TIME]: String(at), [HEADER_TIME_PROOF]: timeProof(keys, nonce, at) }
  }
}

export function refusalMessage(r: Refusal): string {
  return r.why === 'stale signature' ? `internal API: stale signature (${r.skewMs} ms from this node's clock)` : `internal API: ${r.why}`
}
