/**
 * The sending side of member authentication, shared by every internal client (the HTTP transport,
 * got for gossip, the RPC channel): signs a request for one target on the target's clock, and
 * learns that clock from the target's authenticated answers.
 */
import { createHash } from 'node:crypto'
import { HEADER_CONTENT_SHA256, HEADER_TIME, HEADER_TIME_PROOF } from '../wire/headers.js'
import { PeerClocks } from './peer-clocks.js'
import { acceptedKeys, checkTimeProof, type MemberKeys, newNonce, signatureHeaders } from './signing.js'

export interface MemberIdentity {
  /** The cluster secret: requests are signed with it. */
  secret: string
  /** A second cluster secret, during a rotation (`--previous-secret-file`): answers proven with it are accepted too. */
  previousSecret?: string | undefined
  /** This member's id: a node's id, a proxy's id, or a tool's name. */
  selfId: string
  /** Shared by every client of the process, so they learn each peer's clock once. */
  clocks?: PeerClocks
}

export interface SignedRequest {
  headers: Record<string, string>
  nonce: string
  /** Our clock when it was signed. */
  sentAt: number
}

export class MemberSigner {
  /** The keys this member signs with (its current secret's). */
  readonly keys: MemberKeys
  /** The keys whose proofs it accepts: `keys` first, then a secret being rotated. */
  readonly accepted: readonly MemberKeys[]
  readonly selfId: string
  readonly clocks: PeerClocks

  constructor(id: MemberIdentity) {
    this.accepted = acceptedKeys(id.secret, id.previousSecret)
    this.keys = this.accepted[0] as MemberKeys
    this.selfId = id.selfId
    this.clocks = id.clocks ?? new PeerClocks()
  }

  /**
   * Signature headers (and the body's digest, for a body known now) for a request to the member at
   * `address`, whose id is `target` when known (else the address is what the signature binds).
   */
  sign(method: string, path: string, address: string, target: string | undefined, headers: Record<string, string>, body?: Buffer | string): SignedRequest {
    const all = { ...headers }
    if (body !== undefined) all[HEADER_CONTENT_SHA256] = createHash('sha256').update(body).digest('hex')
    const sentAt = Date.now()
    const nonce = newNonce()
    const stamp = { method, path, timestampMs: sentAt + this.clocks.offset(address), nonce, from: this.selfId, target: target ?? address, headers: (h: string) => all[h] }
    return { headers: { ...all, ...signatureHeaders(this.keys, stamp) }, nonce, sentAt }
  }

  /**
   * Learn from an answer of `address` to a request signed as `signed`: its authenticated time, if
   * it sent one. `refusedAsStale`: the answer refused our timestamp, so the estimate is replaced.
   * True when the answer carried a valid time.
   */
  learn(address: string, signed: SignedRequest, header: (name: string) => string | undefined, refusedAsStale = false): boolean {
    const time = header(HEADER_TIME)
    const proof = header(HEADER_TIME_PROOF)
    let theirs: number | undefined
    for (const keys of this.accepted) {
      theirs = checkTimeProof(keys, signed.nonce, time, proof)
      if (theirs !== undefined) break
    }
    if (theirs === undefined) return false
    this.clocks.sample(address, theirs, signed.sentAt, Date.now(), refusedAsStale)
    return true
  }
}
