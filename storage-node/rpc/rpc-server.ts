/**
 * Server side of the internal RPC channel (see shared/rpc/): a signed HTTP Upgrade on the node's
 * own port, made for this node, turns a connection into a stream of sealed frames (any frame
 * that fails its check closes the channel; so does age, see channel-auth.ts); each request frame runs one object
 * operation and is answered by id, in completion order. Answers written in one tick leave in one
 * writev. A malformed frame closes the channel; a malformed request gets a 400 answer like its
 * HTTP route would.
 */
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { CHANNEL_GRACE_MS, CHANNEL_MAX_AGE_MS, type ChannelParties, channelProof, channelSealers, SealedFrameReader, sealedFrameWriter } from '../../shared/rpc/channel-auth.js'
import { HEADER_CHANNEL_NONCE, HEADER_CHANNEL_PROOF, HEADER_NONCE, HEADER_TARGET } from '../../shared/wire/headers.js'
import { InvalidRequestError, toErrorResponse } from '../../shared/errors.js'
import { HEADER_PROTOCOL, PROTOCOL_VERSION, protocolOfHeader } from '../../shared/wire/protocol.js'
import type { Logger } from '../../shared/log.js'
import { encodeFrame, type Frame, FrameKind } from '../../shared/rpc/frames.js'
import { RPC_MAX_BODY_BYTES, RPC_MAX_FRAME_BYTES, RPC_PROTOCOL, RPC_UPGRADE_PATH, RpcRequestSchema, type RpcResponse, type RpcVersionsAnswer } from '../../shared/wire/rpc.js'
import { refusalMessage, type RequestVerifier } from '../../shared/http/request-verifier.js'
import { peerRefusal } from '../../shared/tls/member-tls.js'
import type { ClockOffsets } from '../service/clock-offsets.js'
import { assertTarget, type ObjectService, spaceFor } from '../service/object-service.js'
import type { BlobFiles } from '../store/blobs/blob-files.js'

export interface RpcServerComponents {
  nodeId: string
  service: ObjectService
  blobs: BlobFiles
  verifier: RequestVerifier
  /** Senders' clocks, learned from upgrades and calls; write expiries are read with them. */
  offsets: ClockOffsets
  log: Logger
}

/** Calls one channel may have in flight, and answer bytes waiting to be sent, before the node stops reading it (TCP then holds the peer back). */
const MAX_IN_FLIGHT = 1024
const MAX_UNSENT_BYTES = 16 * 1024 * 1024

export class RpcServer {
  private readonly channels = new Set<Duplex>()
  private closed = false

  constructor(private readonly c: RpcServerComponents) {}

  /** Take the RPC upgrades of `server` (its other requests are untouched). */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head))
  }

  /** Refuse new channels and close the open ones (at shutdown, before the HTTP server closes: it would wait for them forever). */
  closeAll(): void {
    this.closed = true
    for (const s of this.channels) s.destroy()
    this.channels.clear()
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy())
    if (this.closed) {
      refuse(socket, 503, 'Service Unavailable')
      return
    }
    if (req.url !== RPC_UPGRADE_PATH || req.headers.upgrade !== RPC_PROTOCOL) {
      refuse(socket, 404, 'Not Found')
      return
    }
    const header = (name: string) => {
      const v = req.headers[name]
      return typeof v === 'string' ? v : undefined
    }
    const result = this.c.verifier.verify(req.method ?? 'GET', req.url, header)
    if ('refused' in result) {
      this.c.log.warn({ remote: req.socket.remoteAddress, why: refusalMessage(result.refused) }, 'rpc upgrade refused')
      refuse(socket, 401, 'Unauthorized', result.answerHeaders)
      return
    }
    const sender = result.ok.from
    // On a TLS member port: the upgrade is signed by the member whose certificate opened the connection.
    const notThisPeer = peerRefusal(req.socket, sender)
    if (notThisPeer) {
      this.c.log.warn({ remote: req.socket.remoteAddress, why: notThisPeer }, 'rpc upgrade refused')
      refuse(socket, 401, 'Unauthorized')
      return
    }
    const parties: ChannelParties = { clientNonce: header(HEADER_NONCE) as string, serverNonce: randomBytes(18).toString('base64url'), from: sender, target: header(HEADER_TARGET) as string }
    // Proof and channel keys from the secret the upgrade was signed with: during a rotation of the cluster secret, a
    // member that signs with the other one of the two secrets this node accepts gets a channel it can open.
    const keys = result.ok.keys
    // Each side announces its protocol version; the channel speaks the lower (shared/wire/protocol.ts).
    const extra = { ...result.ok.answerHeaders, [HEADER_CHANNEL_NONCE]: parties.serverNonce, [HEADER_CHANNEL_PROOF]: channelProof(keys, parties), [HEADER_PROTOCOL]: String(PROTOCOL_VERSION) }
    const protocol = Math.min(PROTOCOL_VERSION, protocolOfHeader(header(HEADER_PROTOCOL)))
    if (protocol < PROTOCOL_VERSION) this.c.log.info({ peer: sender, protocol }, 'rpc channel from an older member: speaking its protocol')
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${RPC_PROTOCOL}\r\nConnection: Upgrade\r\n${headerLines(extra)}\r\n`)
    this.serve(socket, head, sender, channelSealers(keys, parties, 'server'))
  }

  private serve(socket: Duplex, head: Buffer, sender: string, sealers: ReturnType<typeof channelSealers>): void {
    this.channels.add(socket)
    // The client moves to a fresh channel at CHANNEL_MAX_AGE_MS; one that does not is cut.
    const maxAge = setTimeout(() => {
      this.c.log.info({ peer: sender }, 'rpc channel closed: past its maximum age')
      socket.destroy()
    }, CHANNEL_MAX_AGE_MS + CHANNEL_GRACE_MS)
    maxAge.unref()
    socket.once('close', () => clearTimeout(maxAge))
    const s = socket as Duplex & { setNoDelay?: (v: boolean) => void; setTimeout?: (ms: number) => void; setKeepAlive?: (on: boolean, ms: number) => void }
    s.setNoDelay?.(true)
    s.setTimeout?.(0)
    s.setKeepAlive?.(true, 10_000)
    const reader = new SealedFrameReader(sealers.receive, RPC_MAX_FRAME_BYTES)
    let inFlight = 0
    let paused = false
    // Backpressure: past the bounds, stop reading (the peer's writes then wait in TCP) until
    // answers have gone out.
    const pauseIfFull = () => {
      if (!paused && (inFlight >= MAX_IN_FLIGHT || socket.writableLength >= MAX_UNSENT_BYTES)) {
        paused = true
        socket.pause()
      }
    }
    const resumeIfRoom = () => {
      if (paused && inFlight < MAX_IN_FLIGHT / 2 && socket.writableLength < MAX_UNSENT_BYTES / 2) {
        paused = false
        socket.resume()
      }
    }
    const send = sealedFrameWriter(socket, sealers.send)
    const onData = (chunk: Buffer) => {
      const readAt = Date.now()
      let frames: Frame[]
      try {
        frames = reader.push(chunk)
      } catch (err) {
        this.c.log.warn({ err: String(err) }, 'rpc channel closed: bad frame')
        socket.destroy()
        return
      }
      for (const f of frames) {
        if (f.kind !== FrameKind.Request) {
          this.c.log.warn('rpc channel closed: a peer sent an answer frame')
          socket.destroy()
          return
        }
        inFlight++
        void this.handle(f, sender, readAt)
          .then(({ response, body }) => send(this.answerFrame(f.id, response, body)))
          .catch((err: unknown) => this.c.log.error({ err }, 'rpc answer not sent'))
          .finally(() => {
            inFlight--
            resumeIfRoom()
          })
      }
      pauseIfFull()
    }
    socket.on('data', onData)
    socket.on('drain', resumeIfRoom)
    // Upgraded sockets allow half-open: a peer that closed its side is done with the channel.
    socket.once('end', () => socket.destroy())
    socket.once('close', () => this.channels.delete(socket))
    if (head.length > 0) onData(head)
  }

  /** The frame of an answer; one too large for the peer to accept becomes an error answer instead. */
  private answerFrame(id: number, response: RpcResponse, body: Buffer | undefined): Buffer[] {
    const frame = encodeFrame(id, FrameKind.Response, JSON.stringify(response), body)
    if (frame.reduce((n, b) => n + b.length, 0) <= RPC_MAX_FRAME_BYTES) return frame
    this.c.log.warn({ id }, 'rpc answer larger than a frame')
    const error: RpcResponse = { ok: false, error: { status: 500, code: 'AnswerTooLarge', message: `answer over ${RPC_MAX_FRAME_BYTES} bytes` } }
    return encodeFrame(id, FrameKind.Response, JSON.stringify(error))
  }

  /** One call: never rejects (errors become error answers). */
  private async handle(f: Frame, sender: string, readAt: number): Promise<{ response: RpcResponse; body?: Buffer | undefined }> {
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
      // Taken when the frame was read: a call that waited in the socket only raises its own sample.
      if (r.sentAt !== undefined) this.c.offsets.sample(sender, r.sentAt, readAt)
      assertTarget(r.bucket, r.key)
      const space = spaceFor(r.hintFor, this.c.nodeId)
      if (f.body.length > RPC_MAX_BODY_BYTES) throw new InvalidRequestError(`bodies over ${RPC_MAX_BODY_BYTES} bytes use the streaming routes`)
      switch (r.op) {
        case 'coordinate': {
          const body = r.write.tombstone ? null : await this.c.blobs.fromBuffer(f.body)
          return { response: { ok: true, answer: await this.c.service.coordinate(r.bucket, r.key, r.write, body, space, this.c.offsets.offset(sender)) } }
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

function headerLines(headers: Record<string, string>): string {
  return Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')
}

/** Answer a refused upgrade and close: the socket is destroyed once the answer is out, or after a second whatever the peer does. */
function refuse(socket: Duplex, status: number, text: string, headers: Record<string, string> = {}): void {
  const timer = setTimeout(() => socket.destroy(), 1000)
  timer.unref()
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n${headerLines(headers)}\r\n`, () => {
    clearTimeout(timer)
    socket.destroy()
  })
}
