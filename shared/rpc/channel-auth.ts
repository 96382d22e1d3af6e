/**
 * Authentication of an RPC channel (see frames.ts): the signed upgrade carries the client's nonce,
 * the node's 101 answer its own nonce and a proof that it holds the cluster secret; both sides then
 * derive one key per direction from the two nonces and the two member ids. Every frame carries a
 * truncated HMAC of its bytes and its sequence number in that direction, so a captured upgrade
 * replayed elsewhere, a frame altered, dropped, reordered or replayed, or a channel opened to
 * another node than the one it was signed for, fails its first frame check and is closed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { MemberKeys } from '../http/signing.js'

/** Bytes of the tag at the end of every sealed frame. */
export const TAG_BYTES = 16

/** A channel lives at most this long: the client opens a fresh one (new nonces, new keys) after it. */
export const CHANNEL_MAX_AGE_MS = 5 * 60_000
/** The node closes a channel this long after its maximum age, whatever the client does. */
export const CHANNEL_GRACE_MS = 60_000

export interface ChannelParties {
  clientNonce: string
  serverNonce: string
  /** The client member's id, as signed in the upgrade. */
  from: string
  /** The node the upgrade was signed for. */
  target: string
}

function base(keys: MemberKeys, p: ChannelParties): Buffer {
  return createHmac('sha256', keys.channel).update(`keys\n${p.clientNonce}\n${p.serverNonce}\n${p.from}\n${p.target}`).digest()
}

/** The node's proof, in its 101 answer, that it holds the secret and took these nonces. */
export function channelProof(keys: MemberKeys, p: ChannelParties): string {
  return createHmac('sha256', keys.channel).update(`proof\n${p.clientNonce}\n${p.serverNonce}\n${p.from}\n${p.target}`).digest('base64url')
}

export function proofMatches(keys: MemberKeys, p: ChannelParties, proof: string | undefined): boolean {
  if (!proof) return false
  const want = Buffer.from(channelProof(keys, p))
  const got = Buffer.from(proof)
  return want.length === got.length && timingSafeEqual(want, got)
}

/** Seals the frames one side sends, in order. */
export class FrameSealer {
  private seq = 0n

  constructor(private readonly key: Buffer) {}

  /** The tag of the next frame, whose bytes (length prefix included) are `parts`. */
  tag(parts: readonly Buffer[]): Buffer {
    const h = createHmac('sha256', this.key).update(seqBytes(this.seq++))
    for (const p of parts) h.update(p)
    return h.digest().subarray(0, TAG_BYTES)
  }

  /** True when `tag` is the tag of the next frame, `bytes`; the sequence moves on either way (a failed check ends the channel). */
  check(bytes: Buffer, tag: Buffer): boolean {
    const want = this.tag([bytes])
    return tag.length === TAG_BYTES && timingSafeEqual(want, tag)
  }
}

/** The sealers of one channel, for the side that holds them. */
export function channelSealers(keys: MemberKeys, p: ChannelParties, side: 'client' | 'server'): { send: FrameSealer; receive: FrameSealer } {
  const b = base(keys, p)
  const toServer = createHmac('sha256', b).update('client to server').digest()
  const toClient = createHmac('sha256', b).update('server to client').digest()
  return side === 'client'
    ? { send: new FrameSealer(toServer), receive: new FrameSealer(toClient) }
    : { send: new FrameSealer(toClient), receive: new FrameSealer(toServer) }
}

function seqBytes(n: bigint): Buffer {
  const b = Buffer.allocUnsafe(8)
  b.writeBigUInt64BE(n)
  return b
}
