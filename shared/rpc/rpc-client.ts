/**
 * Client side of the internal RPC channel: one multiplexed connection per node, opened with a
 * signed HTTP Upgrade on the node's own port, many calls in flight on it, answers matched by id.
 * The channel is sealed (channel-auth.ts) and bound to the node it was signed for; after
 * CHANNEL_MAX_AGE_MS new calls go to a fresh channel and the old one closes once its calls are done.
 * Frames written in one tick leave in one writev (cork/uncork), so under load one syscall and one
 * wake-up of the node carry many calls. With `tls` the channel runs over mutual TLS (the upgrade is
 * sent over https; the node's certificate must name the node dialled: shared/tls/member-tls.ts).
 *
 * Failure handling mirrors the HTTP transport's: a call is bounded by its own timeout; a
 * connection that cannot be opened within the connect timeout, closes, or stays silent while a
 * call times out is destroyed, failing every call on it, and the next call dials again.
 */
import http from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import type { MemberTls } from '../tls/member-tls.js'
import { RPC_MAX_FRAME_BYTES, RPC_PROTOCOL, RPC_UPGRADE_PATH, type RpcRequest, type RpcResponse, RpcResponseSchema } from '../wire/rpc.js'
import { HEADER_CHANNEL_NONCE, HEADER_CHANNEL_PROOF } from '../wire/headers.js'
import { HEADER_PROTOCOL, PROTOCOL_VERSION, protocolOfHeader, UNANNOUNCED_PROTOCOL } from '../wire/protocol.js'
import type { MemberSigner, SignedRequest } from '../http/member-signer.js'
import { CHANNEL_MAX_AGE_MS, channelSealers, proofMatches, SealedFrameReader, sealedFrameWriter } from './channel-auth.js'
import { encodeFrame, type Frame, FrameKind } from './frames.js'

export interface RpcClientInit {
  signer: MemberSigner
  /** Bound on opening a channel (TCP connect and the upgrade answer). */
  connectTimeoutMs?: number
  /** Channels over mutual TLS (the node's certificate must name the node dialled); absent: plain TCP. */
  tls?: MemberTls | undefined
}

export interface RpcReply {
  response: RpcResponse
  body: Buffer
}

interface Pending {
  resolve: (r: RpcReply) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export class RpcClient {
  private readonly channels = new Map<string, RpcChannel>()
  private closed = false

  constructor(private readonly init: RpcClientInit) {}

  /** One call to node `target` at `address` (host:port); rejects on transport failure or timeout, resolves with the node's answer (which may be an error). */
  call(target: string, address: string, request: RpcRequest, body: Buffer | undefined, timeoutMs: number): Promise<RpcReply> {
    if (this.closed) return Promise.reject(new Error('rpc client closed'))
    const name = `${target}@${address}`
    let ch = this.channels.get(name)
    if (ch && !ch.dead && ch.expired()) {
      ch.retire()
      ch = undefined
    }
    if (!ch || ch.dead) {
      const opened = new RpcChannel(target, address, this.init, () => {
        if (this.channels.get(name) === opened) this.channels.delete(name)
      })
      ch = opened
      this.channels.set(name, ch)
    }
    return ch.call(request, body, timeoutMs)
  }

  /** The protocol version the open channel to `target` at `address` speaks (undefined: none open). */
  protocolOf(target: string, address: string): number | undefined {
    return this.channels.get(`${target}@${address}`)?.protocol
  }

  close(): void {
    this.closed = true
    for (const ch of this.channels.values()) ch.destroy(new Error('rpc client closed'))
    this.channels.clear()
  }
}

class RpcChannel {
  dead = false
  private socket: Socket | undefined
  /** Calls written before the channel opened (sealed only when written: tags follow the write order). */
  private queued: { id: number; head: string; body: Buffer | undefined }[] = []
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  /** Set once the channel is open. */
  private write: ((frame: Buffer[]) => void) | undefined
  /** Chunks received so far: a call that times out with none after it was sent found the channel silent. */
  private heard = 0
  private reader: SealedFrameReader | undefined
  private opening: http.ClientRequest | undefined
  private readonly openedAt = Date.now()
  /** No new calls: close once the last answer is in. */
  private retiring = false
  /** The protocol version this channel speaks: the lower of ours and the node's (announced in its 101; shared/wire/protocol.ts). */
  protocol = UNANNOUNCED_PROTOCOL

  constructor(
    private readonly target: string,
    private readonly address: string,
    private readonly init: RpcClientInit,
    private readonly onDead: () => void,
  ) {
    const connectTimer = setTimeout(() => this.destroy(new Error(`rpc channel to ${address} not open within ${init.connectTimeoutMs ?? 3000} ms`)), init.connectTimeoutMs ?? 3000)
    this.open(connectTimer, true)
  }

  /** Send the signed upgrade; `mayRetry`: a refusal for our timestamp is answered once more on the node's proven clock. */
  private open(connectTimer: NodeJS.Timeout, mayRetry: boolean): void {
    const colon = this.address.lastIndexOf(':')
    const signer = this.init.signer
    const signed = signer.sign('GET', RPC_UPGRADE_PATH, this.address, this.target, { connection: 'Upgrade', upgrade: RPC_PROTOCOL })
    const options = {
      host: this.address.slice(0, colon),
      port: Number(this.address.slice(colon + 1)),
      method: 'GET',
      path: RPC_UPGRADE_PATH,
      agent: false,
      // Unsigned (the signature covers a fixed list an older node checks): it can only lower what this channel speaks.
      headers: { ...signed.headers, [HEADER_PROTOCOL]: String(PROTOCOL_VERSION) },
    } as const
    const tls = this.init.tls
    const opening = tls ? https.request({ ...options, ...tls.connectOptions(this.target) }) : http.request(options)
    this.opening = opening
    opening.once('upgrade', (res, socket, head) => {
      clearTimeout(connectTimer)
      signer.learn(this.address, signed, (name) => headerOf(res, name))
      this.protocol = Math.min(PROTOCOL_VERSION, protocolOfHeader(headerOf(res, HEADER_PROTOCOL)))
      if (res.headers.upgrade !== RPC_PROTOCOL) {
        socket.destroy()
        this.destroy(new Error(`rpc channel to ${this.address}: unexpected protocol ${res.headers.upgrade}`))
        return
      }
      this.opened(socket, head, signed, headerOf(res, HEADER_CHANNEL_NONCE), headerOf(res, HEADER_CHANNEL_PROOF))
    })
    opening.once('response', (res) => {
      res.resume()
      const stale = res.statusCode === 401 && signer.learn(this.address, signed, (name) => headerOf(res, name), true)
      if (stale && mayRetry && !this.dead) {
        this.open(connectTimer, false)
        return
      }
      clearTimeout(connectTimer)
      this.destroy(new Error(`rpc channel to ${this.address} refused: HTTP ${res.statusCode}`))
    })
    opening.once('error', (err) => {
      clearTimeout(connectTimer)
      this.destroy(err)
    })
    opening.end()
  }

  /** Past its maximum age: the client opens a fresh channel for new calls. */
  expired(): boolean {
    return Date.now() - this.openedAt >= CHANNEL_MAX_AGE_MS
  }

  /** Take no new calls; close once the calls in flight are answered. */
  retire(): void {
    this.retiring = true
    this.onDead()
    if (this.pending.size === 0) this.destroy(new Error('rpc channel retired'))
  }

  call(request: RpcRequest, body: Buffer | undefined, timeoutMs: number): Promise<RpcReply> {
    const id = this.nextId
    this.nextId = this.nextId >= 0xffff_ffff ? 1 : this.nextId + 1
    let head: string
    try {
      // sentAt on the node's clock, as we know it: the node reads the write's expiry with it.
      head = JSON.stringify({ ...request, sentAt: this.init.signer.clocks.theirNow(this.address) })
    } catch (err) {
      return Promise.reject(err)
    }
    return new Promise<RpcReply>((resolve, reject) => {
      const heardBefore = this.heard
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`no answer within ${timeoutMs} ms`))
        // Nothing heard on the channel since this call left: the peer or the path is gone.
        if (this.heard === heardBefore) this.destroy(new Error(`rpc channel to ${this.address} silent for ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, { resolve, reject, timer })
      this.send(id, head, body)
    })
  }

  private send(id: number, head: string, body: Buffer | undefined): void {
    if (this.write) this.write(encodeFrame(id, FrameKind.Request, head, body))
    else this.queued.push({ id, head, body })
  }

  private opened(socket: Socket, head: Buffer, signed: SignedRequest, serverNonce: string | undefined, proof: string | undefined): void {
    if (this.dead) {
      socket.destroy()
      return
    }
    const parties = { clientNonce: signed.nonce, serverNonce: serverNonce ?? '', from: this.init.signer.selfId, target: this.target }
    // The node proves (and keys the channel with) the secret we signed the upgrade with; during a rotation of the
    // cluster secret, a proof made with the other secret we accept is taken too, and the channel keyed with it.
    const keys = serverNonce ? this.init.signer.accepted.find((k) => proofMatches(k, parties, proof)) : undefined
    if (!keys) {
      socket.destroy()
      this.destroy(new Error(`rpc channel to ${this.address}: the node did not prove the cluster secret`))
      return
    }
    const sealers = channelSealers(keys, parties, 'client')
    this.reader = new SealedFrameReader(sealers.receive, RPC_MAX_FRAME_BYTES)
    this.socket = socket
    this.write = sealedFrameWriter(socket, sealers.send)
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 10_000)
    socket.setTimeout(0)
    socket.on('data', (chunk: Buffer) => this.received(chunk))
    socket.once('close', () => this.destroy(new Error(`rpc channel to ${this.address} closed`)))
    socket.on('error', (err) => this.destroy(err))
    if (head.length > 0) this.received(head)
    const queued = this.queued
    this.queued = []
    for (const q of queued) this.send(q.id, q.head, q.body)
  }

  private received(chunk: Buffer): void {
    this.heard++
    let frames: Frame[]
    try {
      frames = (this.reader as SealedFrameReader).push(chunk)
    } catch (err) {
      this.destroy(err as Error)
      return
    }
    for (const f of frames) {
      const p = this.pending.get(f.id)
      if (!p || f.kind !== FrameKind.Response) continue
      this.pending.delete(f.id)
      clearTimeout(p.timer)
      let response: RpcResponse
      try {
        response = RpcResponseSchema.parse(JSON.parse(f.head))
      } catch (err) {
        p.reject(new Error(`malformed rpc answer from ${this.address}: ${(err as Error).message}`))
        continue
      }
      p.resolve({ response, body: f.body })
    }
    if (this.retiring && this.pending.size === 0) this.destroy(new Error('rpc channel retired'))
  }

  destroy(err: Error): void {
    if (this.dead) return
    this.dead = true
    this.onDead()
    this.opening?.destroy()
    this.socket?.destroy()
    this.queued = []
    for (const p of this.pending.values()) {
      clearTimeout(p.timer)
      p.reject(err)
    }
    this.pending.clear()
  }
}

function headerOf(res: http.IncomingMessage, name: string): string | undefined {
  const v = res.headers[name]
  return typeof v === 'string' ? v : undefined
}
