/**
 * Client side of the internal RPC channel: one multiplexed connection per node, opened with a
 * signed HTTP Upgrade on the node's own port, many calls in flight on it, answers matched by id.
 * Frames written in one tick leave in one writev (cork/uncork), so under load one syscall and one
 * wake-up of the node carry many calls.
 *
 * Failure handling mirrors the HTTP transport's: a call is bounded by its own timeout; a
 * connection that cannot be opened within the connect timeout, closes, or stays silent while a
 * call times out is destroyed, failing every call on it, and the next call dials again.
 */
import http from 'node:http'
import type { Socket } from 'node:net'
import { RPC_MAX_FRAME_BYTES, RPC_PROTOCOL, RPC_UPGRADE_PATH, type RpcRequest, type RpcResponse, RpcResponseSchema } from '../wire/rpc.js'
import { HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP } from '../wire/headers.js'
import { newNonce, signRequest } from '../http/signing.js'
import { encodeFrame, type Frame, FrameKind, FrameReader, frameWriter } from './frames.js'

export interface RpcClientInit {
  secret: string
  /** Bound on opening a channel (TCP connect and the upgrade answer). */
  connectTimeoutMs?: number
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

  /** One call to the node at `address` (host:port); rejects on transport failure or timeout, resolves with the node's answer (which may be an error). */
  call(address: string, request: RpcRequest, body: Buffer | undefined, timeoutMs: number): Promise<RpcReply> {
    if (this.closed) return Promise.reject(new Error('rpc client closed'))
    let ch = this.channels.get(address)
    if (!ch || ch.dead) {
      ch = new RpcChannel(address, this.init, () => {
        if (this.channels.get(address) === ch) this.channels.delete(address)
      })
      this.channels.set(address, ch)
    }
    return ch.call(request, body, timeoutMs)
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
  /** Frames written before the channel opened. */
  private queued: Buffer[][] = []
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  /** Set once the channel is open. */
  private write: ((frame: Buffer[]) => void) | undefined
  /** Chunks received so far: a call that times out with none after it was sent found the channel silent. */
  private heard = 0
  private readonly reader = new FrameReader(RPC_MAX_FRAME_BYTES)
  private readonly opening: http.ClientRequest

  constructor(
    private readonly address: string,
    init: RpcClientInit,
    private readonly onDead: () => void,
  ) {
    const colon = address.lastIndexOf(':')
    const stamp = { method: 'GET', path: RPC_UPGRADE_PATH, timestampMs: Date.now(), nonce: newNonce() }
    this.opening = http.request({
      host: address.slice(0, colon),
      port: Number(address.slice(colon + 1)),
      method: 'GET',
      path: RPC_UPGRADE_PATH,
      agent: false,
      headers: {
        connection: 'Upgrade',
        upgrade: RPC_PROTOCOL,
        [HEADER_TIMESTAMP]: String(stamp.timestampMs),
        [HEADER_NONCE]: stamp.nonce,
        [HEADER_SIGNATURE]: signRequest(init.secret, stamp),
      },
    })
    const connectTimer = setTimeout(() => this.destroy(new Error(`rpc channel to ${address} not open within ${init.connectTimeoutMs ?? 3000} ms`)), init.connectTimeoutMs ?? 3000)
    this.opening.once('upgrade', (res, socket, head) => {
      clearTimeout(connectTimer)
      if (res.headers.upgrade !== RPC_PROTOCOL) {
        socket.destroy()
        this.destroy(new Error(`rpc channel to ${address}: unexpected protocol ${res.headers.upgrade}`))
        return
      }
      this.opened(socket, head)
    })
    this.opening.once('response', (res) => {
      clearTimeout(connectTimer)
      res.resume()
      this.destroy(new Error(`rpc channel to ${address} refused: HTTP ${res.statusCode}`))
    })
    this.opening.once('error', (err) => {
      clearTimeout(connectTimer)
      this.destroy(err)
    })
    this.opening.end()
  }

  call(request: RpcRequest, body: Buffer | undefined, timeoutMs: number): Promise<RpcReply> {
    const id = this.nextId
    this.nextId = this.nextId >= 0xffff_ffff ? 1 : this.nextId + 1
    let frame: Buffer[]
    try {
      frame = encodeFrame(id, FrameKind.Request, JSON.stringify({ ...request, sentAt: Date.now() }), body)
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
      this.send(frame)
    })
  }

  private send(frame: Buffer[]): void {
    if (this.write) this.write(frame)
    else this.queued.push(frame)
  }

  private opened(socket: Socket, head: Buffer): void {
    if (this.dead) {
      socket.destroy()
      return
    }
    this.socket = socket
    this.write = frameWriter(socket)
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 10_000)
    socket.setTimeout(0)
    socket.on('data', (chunk: Buffer) => this.received(chunk))
    socket.once('close', () => this.destroy(new Error(`rpc channel to ${this.address} closed`)))
    socket.on('error', (err) => this.destroy(err))
    if (head.length > 0) this.received(head)
    const queued = this.queued
    this.queued = []
    for (const f of queued) this.send(f)
  }

  private received(chunk: Buffer): void {
    this.heard++
    let frames: Frame[]
    try {
      frames = this.reader.push(chunk)
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
  }

  destroy(err: Error): void {
    if (this.dead) return
    this.dead = true
    this.onDead()
    this.opening.destroy()
    this.socket?.destroy()
    this.queued = []
    for (const p of this.pending.values()) {
      clearTimeout(p.timer)
      p.reject(err)
    }
    this.pending.clear()
  }
}
