/**
 * Authentication of an RPC channel (see frames.ts): the signed upgrade carries the client's nonce,
 * the node's 101 answer its own nonce and a proof that it holds the cluster secret; both sides then
 * derive one key per direction from the two nonces and the two member ids. The frames one side
 * writes in an event-loop turn travel as one record,
 *
 *   u32 length of the frames | frames | 16-byte tag
 *
 * the tag an AES-GMAC (AES-256-GCM over no plaintext) of the length and the frames, with the
 * record's sequence number in that direction as the nonce: a captured upgrade replayed elsewhere,
 * a record altered, dropped, reordered or replayed, or a channel opened to another node than the
 * one it was signed for, fails its first check and the channel is closed. One tag per record, not
 * per frame, and GMAC's cost barely grows with the bytes: see docs/decisions/0001-member-authentication.md.
 */
import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto'
import type { Writable } from 'node:stream'
import type { MemberKeys } from '../http/signing.js'
import { ByteQueue } from './byte-queue.js'
import { type Frame, FrameError, FrameReader } from './frames.js'

export const TAG_BYTES = 16
/** A writer closes a record once it holds this many bytes (a record holds whole frames, so it can hold one frame more). */
export const MAX_RECORD_FILL_BYTES = 1024 * 1024

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

/** Seals the records one side sends, in order (the sequence number is the GCM nonce: a key never sees one twice). */
export class RecordSealer {
  private seq = 0n

  constructor(private readonly key: Buffer) {}

  /** The length prefix and the tag that go around `parts`, the frames of the next record. */
  seal(parts: readonly Buffer[]): { prefix: Buffer; tag: Buffer } {
    const prefix = Buffer.allocUnsafe(4)
    prefix.writeUInt32BE(parts.reduce((n, p) => n + p.length, 0))
    return { prefix, tag: this.tag([prefix, ...parts]) }
  }

  /** The tag of the next record whose bytes (prefix included) are `parts`; the sequence moves on. */
  tag(parts: readonly Buffer[]): Buffer {
    const iv = Buffer.alloc(12)
    iv.writeBigUInt64BE(this.seq++, 4)
    const gmac = createCipheriv('aes-256-gcm', this.key, iv)
    for (const p of parts) gmac.setAAD(p)
    gmac.final()
    return gmac.getAuthTag()
  }
}

/**
 * Reads a sealed channel: splits the bytes into records, checks each record's tag in order
 * (`opener` holds the peer's sending key), and returns the frames of the records that pass. A
 * record that fails, is larger than `maxRecordBytes`, or ends inside a frame is a FrameError.
 */
export class SealedFrameReader {
  private readonly queue = new ByteQueue()
  private readonly frames: FrameReader

  constructor(
    private readonly opener: RecordSealer,
    maxFrameBytes: number,
    private readonly maxRecordBytes = MAX_RECORD_FILL_BYTES + maxFrameBytes,
  ) {
    this.frames = new FrameReader(maxFrameBytes)
  }

  push(chunk: Buffer): Frame[] {
    this.queue.push(chunk)
    const out: Frame[] = []
    while (this.queue.length >= 4) {
      const length = this.queue.peekUInt32()
      if (length > this.maxRecordBytes) throw new FrameError(`record of ${length} bytes (limit ${this.maxRecordBytes})`)
      if (this.queue.length < 4 + length + TAG_BYTES) break
      const record = this.queue.take(4 + length)
      const tag = this.queue.take(TAG_BYTES)
      if (!timingSafeEqual(this.opener.tag([record]), tag)) throw new FrameError('record failed its authentication check')
      for (const f of this.frames.push(record.subarray(4))) out.push(f)
      if (this.frames.pending > 0) throw new FrameError('record ends inside a frame')
    }
    return out
  }
}

/** frameWriter's batching on a sealed channel: the frames of one event-loop turn leave as one record (one tag for all of them). */
export function sealedFrameWriter(socket: Writable, sealer: RecordSealer): (frame: Buffer[]) => void {
  let batch: Buffer[] = []
  let bytes = 0
  let scheduled = false
  const flush = () => {
    scheduled = false
    const parts = batch
    batch = []
    bytes = 0
    if (socket.destroyed || parts.length === 0) return
    const { prefix, tag } = sealer.seal(parts)
    socket.cork()
    socket.write(prefix)
    for (const b of parts) socket.write(b)
    socket.write(tag)
    socket.uncork()
  }
  return (frame) => {
    if (socket.destroyed) return
    for (const b of frame) {
      batch.push(b)
      bytes += b.length
    }
    // A record is bounded: a large batch leaves at once, the rest of the turn's frames in the next record.
    if (bytes >= MAX_RECORD_FILL_BYTES) flush()
    else if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }
}

/** The sealers of one channel, for the side that holds them. */
export function channelSealers(keys: MemberKeys, p: ChannelParties, side: 'client' | 'server'): { send: RecordSealer; receive: RecordSealer } {
  const b = base(keys, p)
  const toServer = createHmac('sha256', b).update('client to server').digest()
  const toClient = createHmac('sha256', b).update('server to client').digest()
  return side === 'client' ? { send: new RecordSealer(toServer), receive: new RecordSealer(toClient) } : { send: new RecordSealer(toClient), receive: new RecordSealer(toServer) }
}
