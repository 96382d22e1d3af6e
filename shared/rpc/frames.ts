/**
 * Framing of the internal RPC channel: after an authenticated HTTP Upgrade, proxy and nodes
 * exchange length-prefixed frames over one keep-alive TCP connection, many requests in flight at
 * once, matched by id. A frame is
 *
 *   u32 length of the rest | u32 id | u8 kind | u32 head length | head (UTF-8 JSON) | body bytes | tag
 *
 * where the tag (on sealed channels, see channel-auth.ts) authenticates every byte before it and
 * the frame's place in the channel; a frame that fails its check is a protocol error.
 *
 * The head is validated with the wire schemas (shared/wire/rpc.ts); the body is raw bytes (a small
 * object's content). Frames larger than `maxFrameBytes` are a protocol error: the reader throws
 * and the connection is closed, so a peer can never make the other buffer without bound.
 */
import type { Writable } from 'node:stream'
import { type FrameSealer, TAG_BYTES } from './channel-auth.js'

export const FrameKind = { Request: 1, Response: 2 } as const
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind]

export interface Frame {
  id: number
  kind: FrameKind
  head: string
  body: Buffer
}

/** Bytes before the head: length, id, kind, head length. */
const PREFIX_BYTES = 4 + 4 + 1 + 4

/** Bytes a frame of this head and body takes on a sealed channel. */
export function sealedFrameBytes(head: string, body?: Buffer): number {
  return PREFIX_BYTES + Buffer.byteLength(head) + (body?.length ?? 0) + TAG_BYTES
}

/**
 * The bytes of one frame: a prefix+head buffer and the body, to be written back to back (no copy
 * of the body), then its tag when `sealer` is given (seal in the order frames are written).
 */
export function encodeFrame(id: number, kind: FrameKind, head: string, body?: Buffer, sealer?: FrameSealer): Buffer[] {
  const headBytes = Buffer.byteLength(head)
  const bodyBytes = body?.length ?? 0
  const out = Buffer.allocUnsafe(PREFIX_BYTES + headBytes)
  out.writeUInt32BE(PREFIX_BYTES - 4 + headBytes + bodyBytes + (sealer ? TAG_BYTES : 0), 0)
  out.writeUInt32BE(id >>> 0, 4)
  out.writeUInt8(kind, 8)
  out.writeUInt32BE(headBytes, 9)
  out.write(head, PREFIX_BYTES, 'utf8')
  const parts = body && bodyBytes > 0 ? [out, body] : [out]
  if (sealer) parts.push(sealer.tag(parts))
  return parts
}

/**
 * A writer of frames to `socket` that corks it for the rest of the event-loop turn, so the frames of
 * many calls (or answers) leave in one writev. Frames for a destroyed socket are dropped.
 *
 * The flush is a setImmediate, after every socket that was readable in this poll phase has been
 * handled, not a nextTick (after the one request being handled): the calls of all requests that
 * arrived together share one write, and the peer one wake-up. A socket write costs ~50 us here
 * (the proxy spent a third of its CPU in them under 4 KiB GETs); in alternating runs at c16 GET/s
 * rose 6-12 % and cluster CPU per PUT fell 5-16 % (README, "Measured figures").
 */
export function frameWriter(socket: Writable): (frame: Buffer[]) => void {
  let corked = false
  return (frame) => {
    if (socket.destroyed) return
    if (!corked) {
      corked = true
      socket.cork()
      setImmediate(() => {
        corked = false
        socket.uncork()
      })
    }
    for (const b of frame) socket.write(b)
  }
}

export class FrameError extends Error {}

/** Splits a byte stream into frames, whatever the chunk boundaries. */
export class FrameReader {
  private chunks: Buffer[] = []
  private buffered = 0

  /** `opener`: the channel is sealed, every frame's tag is checked in order. */
  constructor(
    private readonly maxFrameBytes: number,
    private readonly opener?: FrameSealer,
  ) {}

  /** Add received bytes; returns the frames now complete, in order. Throws FrameError on a malformed or oversized frame. */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    const frames: Frame[] = []
    while (this.buffered >= 4) {
      const first = this.chunks[0] as Buffer
      const length = first.length >= 4 ? first.readUInt32BE(0) : this.peek(4).readUInt32BE(0)
      const tagBytes = this.opener ? TAG_BYTES : 0
      if (length < PREFIX_BYTES - 4 + tagBytes || length > this.maxFrameBytes) throw new FrameError(`frame of ${length} bytes (limit ${this.maxFrameBytes})`)
      if (this.buffered < 4 + length) break
      const whole = this.take(4 + length)
      const bytes = whole.subarray(0, whole.length - tagBytes)
      if (this.opener && !this.opener.check(bytes, whole.subarray(bytes.length))) throw new FrameError('frame failed its authentication check')
      const headBytes = bytes.readUInt32BE(9)
      if (PREFIX_BYTES + headBytes > bytes.length) throw new FrameError('frame head longer than the frame')
      const kind = bytes.readUInt8(8)
      if (kind !== FrameKind.Request && kind !== FrameKind.Response) throw new FrameError(`unknown frame kind ${kind}`)
      frames.push({
        id: bytes.readUInt32BE(4),
        kind,
        head: bytes.toString('utf8', PREFIX_BYTES, PREFIX_BYTES + headBytes),
        body: bytes.subarray(PREFIX_BYTES + headBytes),
      })
    }
    return frames
  }

  /** The first n buffered bytes, without consuming them. */
  private peek(n: number): Buffer {
    return Buffer.concat(this.chunks, Math.min(this.buffered, Math.max(n, 0))).subarray(0, n)
  }

  /** Consume exactly n bytes (one copy only when they span chunks). */
  private take(n: number): Buffer {
    const first = this.chunks[0] as Buffer
    let out: Buffer
    if (first.length >= n) {
      out = first.subarray(0, n)
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
    } else {
      out = Buffer.allocUnsafe(n)
      let at = 0
      while (at < n) {
        const c = this.chunks[0] as Buffer
        const want = n - at
        if (c.length <= want) {
          c.copy(out, at)
          at += c.length
          this.chunks.shift()
        } else {
          c.copy(out, at, 0, want)
          this.chunks[0] = c.subarray(want)
          at += want
        }
      }
    }
    this.buffered -= n
    return out
  }
}
