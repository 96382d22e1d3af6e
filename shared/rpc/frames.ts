/**
 * Framing of the internal RPC channel: after an authenticated HTTP Upgrade, proxy and nodes
 * exchange length-prefixed frames over one keep-alive TCP connection, many requests in flight at
 * once, matched by id. A frame is
 *
 *   u32 length of the rest | u32 id | u8 kind | u32 head length | head (UTF-8 JSON) | body bytes
 *
 * On a sealed channel (see channel-auth.ts) the frames written in one event-loop turn travel as one
 * record, whose tag authenticates them and their place in the channel; a record that fails its
 * check is a protocol error.
 *
 * The head is validated with the wire schemas (shared/wire/rpc.ts); the body is raw bytes (a small
 * object's content). Frames larger than `maxFrameBytes` are a protocol error: the reader throws
 * and the connection is closed, so a peer can never make the other buffer without bound.
 */
import type { Writable } from 'node:stream'
import { ByteQueue } from './byte-queue.js'

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

/** The bytes of one frame: a prefix+head buffer and the body, to be written back to back (no copy of the body). */
export function encodeFrame(id: number, kind: FrameKind, head: string, body?: Buffer): Buffer[] {
  const headBytes = Buffer.byteLength(head)
  const bodyBytes = body?.length ?? 0
  const out = Buffer.allocUnsafe(PREFIX_BYTES + headBytes)
  out.writeUInt32BE(PREFIX_BYTES - 4 + headBytes + bodyBytes, 0)
  out.writeUInt32BE(id >>> 0, 4)
  out.writeUInt8(kind, 8)
  out.writeUInt32BE(headBytes, 9)
  out.write(head, PREFIX_BYTES, 'utf8')
  return body && bodyBytes > 0 ? [out, body] : [out]
}

/**
 * A writer of frames to `socket` that corks it for the rest of the event-loop turn, so the frames of
 * many calls (or answers) leave in one writev. Frames for a destroyed socket are dropped.
 *
 * The flush is a setImmediate, after every socket that was readable in this poll phase has been
 * handled, not a nextTick (after the one request being handled): the calls of all requests that
 * arrived together share one write, and the peer one wake-up; socket writes and wake-ups are what
 * small calls cost most (see docs/decisions/0008-frame-flush-on-setimmediate.md).
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
  private readonly queue = new ByteQueue()

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes received but not yet part of a whole frame. */
  get pending(): number {
    return this.queue.length
  }

  /** Add received bytes; returns the frames now complete, in order. Throws FrameError on a malformed or oversized frame. */
  push(chunk: Buffer): Frame[] {
    this.queue.push(chunk)
    const frames: Frame[] = []
    while (this.queue.length >= 4) {
      const length = this.queue.peekUInt32()
      if (length < PREFIX_BYTES - 4 || length > this.maxFrameBytes) throw new FrameError(`frame of ${length} bytes (limit ${this.maxFrameBytes})`)
      if (this.queue.length < 4 + length) break
      const bytes = this.queue.take(4 + length)
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
}
