/**
 * Server side of the internal RPC channel (see shared/rpc/): a signed HTTP Upgrade on the node's
 * own port turns a connection into a stream of frames; each request frame runs one object
 * operation and is answered by id, in completion order. Answers written in one tick leave in one
 * writev. A malformed frame closes the channel; a malformed request gets a 400 answer like its
 * HTTP route would.
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { InvalidRequestError, toErrorResponse } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { encodeFrame, type Frame, FrameKind, FrameReader } from '../../shared/rpc/frames.js'
import { RPC_MAX_BODY_BYTES, RPC_MAX_FRAME_BYTES, RPC_PROTOCOL, RPC_UPGRADE_PATH, RpcRequestSchema, type RpcResponse, type RpcVersionsAnswer } from '../../shared/wire/rpc.js'
import type { RequestVerifier } from '../routes/auth.js'
import { assertTarget, type ObjectService, spaceFor } from '../service/object-service.js'
import type { BlobFiles } from '../store/blob-files.js'

export interface RpcServerComponents {
  nodeId: string
  service: ObjectService
  blobs: BlobFiles
  verifier: RequestVerifier
  log: Logger
}

/** Calls one channel may have in flight; a peer past it is misbehaving and is cut off. */
const MAX_IN_FLIGHT = 4096

export class RpcServer {
  private readonly channels = new Set<Duplex>()

  constructor(private readonly c: RpcServerComponents) {}

  /** Take the RPC upgrades of `server` (its other requests are untouched). */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head))
  }

  /** Close every open channel (at shutdown; peers dial again elsewhere). */
  closeAll(): void {
    for (const s of this.channels) s.destroy()
    this.channels.clear()
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy())
    if (req.url !== RPC_UPGRADE_PATH || req.headers.upgrade !== RPC_PROTOCOL) {
      refuse(socket, 404, 'Not Found')
      return
    }
    const why = this.c.verifier.refusal(req.method ?? 'GET', req.url, (name) => {
      const v = req.headers[name]
      return typeof v === 'string' ? v : undefined
    })
    if (why) {
      this.c.log.warn({ remote: req.socket.remoteAddress, why }, 'rpc upgrade refused')
      refuse(socket, 401, 'Unauthorized')
      return
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${RPC_PROTOCOL}\r\nConnection: Upgrade\r\n\r\n`)
    this.serve(socket, head)
  }

  private serve(socket: Duplex, head: Buffer): void {
    this.channels.add(socket)
    const s = socket as Duplex & { setNoDelay?: (v: boolean) => void; setTimeout?: (ms: number) => void; setKeepAlive?: (on: boolean, ms: number) => void }
    s.setNoDelay?.(true)
    s.setTimeout?.(0)
    s.setKeepAlive?.(true, 10_000)
    const reader = new FrameReader(RPC_MAX_FRAME_BYTES)
    let inFlight = 0
    let corked = false
    const send = (frame: Buffer[]) => {
      if (socket.destroyed) return
      if (!corked) {
        corked = true
        socket.cork()
        process.nextTick(() => {
          corked = false
          socket.uncork()
        })
      }
      for (const b of frame) socket.write(b)
    }
    const onData = (chunk: Buffer) => {
      let frames: Frame[]
      try {
        frames = reader.push(chunk)
      } catch (err) {
        this.c.log.warn({ err: String(err) }, 'rpc channel closed: bad frame')
        socket.destroy()
        return
      }
      for (const f of frames) {
        if (f.kind !== FrameKind.Request || ++inFlight > MAX_IN_FLIGHT) {
          this.c.log.warn({ inFlight }, 'rpc channel closed: unexpected frame or too many calls in flight')
          socket.destroy()
          return
        }
        void this.handle(f).then(({ response, body }) => {
          inFlight--
          send(encodeFrame(f.id, FrameKind.Response, JSON.stringify(response), body))
        })
      }
    }
    socket.on('data', onData)
    socket.once('close', () => this.channels.delete(socket))
    if (head.length > 0) onData(head)
  }

  /** One call: never rejects (errors become error answers). */
  private async handle(f: Frame): Promise<{ response: RpcResponse; body?: Buffer | undefined }> {
    try {
      let raw: unknown
      try {
        raw = JSON.parse(f.head)
      } catch {
        throw new InvalidRequestError('rpc request head is not JSON')
      }
      const parsed = RpcRequestSchema.safeParse(raw)
      if (!parsed.success) throw new InvalidRequestError(`bad rpc request: ${parsed.error.message}`)
      const r = parsed.data
      assertTarget(r.bucket, r.key)
      const space = spaceFor(r.hintFor, this.c.nodeId)
      if (f.body.length > RPC_MAX_BODY_BYTES) throw new InvalidRequestError(`bodies over ${RPC_MAX_BODY_BYTES} bytes use the streaming routes`)
      switch (r.op) {
        case 'coordinate': {
          const body = r.write.tombstone ? null : await this.c.blobs.fromBuffer(f.body)
          return { response: { ok: true, answer: await this.c.service.coordinate(r.bucket, r.key, r.write, body, space) } }
        }
        case 'replicate': {
          const body = r.version.tombstone ? null : await this.c.blobs.fromBuffer(f.body)
          return { response: { ok: true, answer: await this.c.service.replicate(r.bucket, r.key, r.version, body, space) } }
        }
        case 'versions': {
          const { answer, data } = await this.c.service.versions(r.bucket, r.key, space, r.inline)
          return { response: { ok: true, answer: { ...answer, inline: data !== undefined } satisfies RpcVersionsAnswer }, body: data }
        }
      }
    } catch (err) {
      const { status, body, unexpected } = toErrorResponse(err)
      if (unexpected) this.c.log.error({ err }, 'unexpected error in rpc call')
      return { response: { ok: false, error: { status, code: body.error.code, message: body.error.message } } }
    }
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}
