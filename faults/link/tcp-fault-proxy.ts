/**
 * A TCP forwarder standing for a bad network link in front of one storage node (this kernel has
 * no `tc netem`): every chunk, both ways, is delayed by `delayMs` give or take `jitterMs`, and a
 * fraction of connections is reset (RST) at a random moment of their first `resetWithinMs`.
 * Bounded: at most `maxConnections` at once (more are reset), at most `maxQueuedBytes` held per
 * direction of a connection. Settings change at any time and apply to chunks that arrive after.
 */
import { createServer, type Server, type Socket, connect } from 'node:net'
import { DelayedPipe } from './delayed-pipe.js'

export interface LinkFaults {
  /** Added to every chunk, each way. */
  delayMs: number
  /** Each chunk's delay is delayMs plus up to this much more, at random. */
  jitterMs: number
  /** Fraction of new connections reset (RST to both ends) at a random moment. */
  resetFraction: number
  /** A connection picked for reset dies within this long of being accepted. */
  resetWithinMs: number
}

export const CLEAN_LINK: Readonly<LinkFaults> = Object.freeze({ delayMs: 0, jitterMs: 0, resetFraction: 0, resetWithinMs: 2000 })

export interface TcpFaultProxyInit {
  listenHost: string
  targetHost: string
  targetPort: number
  maxConnections?: number
  maxQueuedBytes?: number
  rng?: () => number
}

export interface LinkStats {
  accepted: number
  reset: number
  refusedOverLimit: number
  upstreamFailed: number
  bytes: number
  open: number
}

interface Connection {
  client: Socket
  upstream: Socket
  pipes: DelayedPipe[]
  resetTimer?: NodeJS.Timeout
}

export class TcpFaultProxy {
  private server: Server | undefined
  private faults: LinkFaults = { ...CLEAN_LINK }
  private readonly open = new Set<Connection>()
  private readonly rng: () => number
  readonly stats: LinkStats = { accepted: 0, reset: 0, refusedOverLimit: 0, upstreamFailed: 0, bytes: 0, open: 0 }
  port = 0

  constructor(private readonly init: TcpFaultProxyInit) {
    this.rng = init.rng ?? Math.random
  }

  get address(): string {
    return `${this.init.listenHost}:${this.port}`
  }

  /** Listen on `port` (0: any free one); the same port again after a stop and start. */
  async start(port = this.port): Promise<string> {
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => this.accept(client))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, this.init.listenHost, () => resolve())
    })
    // Past listen, a server error (EMFILE on accept) must not crash the checker: that connection is simply not made.
    server.on('error', () => undefined)
    this.server = server
    this.port = (server.address() as { port: number }).port
    return this.address
  }

  set(faults: Partial<LinkFaults>): void {
    this.faults = { ...this.faults, ...faults }
  }

  get current(): Readonly<LinkFaults> {
    return this.faults
  }

  clear(): void {
    this.faults = { ...CLEAN_LINK }
  }

  /** Reset this fraction of the open connections now (0..1); returns how many. */
  resetSome(fraction: number): number {
    let n = 0
    for (const c of [...this.open]) {
      if (this.rng() < fraction) {
        this.reset(c)
        n++
      }
    }
    return n
  }

  private delay(): number {
    const { delayMs, jitterMs } = this.faults
    return delayMs + (jitterMs > 0 ? this.rng() * jitterMs : 0)
  }

  private accept(client: Socket): void {
    this.stats.accepted++
    if (this.open.size >= (this.init.maxConnections ?? 512)) {
      this.stats.refusedOverLimit++
      client.resetAndDestroy()
      return
    }
    const upstream = connect({ host: this.init.targetHost, port: this.init.targetPort, allowHalfOpen: true, noDelay: true })
    const maxQueued = this.init.maxQueuedBytes ?? 4 * 1024 * 1024
    const c: Connection = {
      client,
      upstream,
      pipes: [new DelayedPipe(client, upstream, () => this.delay(), maxQueued), new DelayedPipe(upstream, client, () => this.delay(), maxQueued)],
    }
    this.open.add(c)
    this.stats.open = this.open.size
    // An error on one end (refused, reset) is passed on to the other as a reset, not counted as injected.
    upstream.once('error', () => {
      if (!upstream.remoteAddress) this.stats.upstreamFailed++
      this.reset(c, false)
    })
    client.once('error', () => this.reset(c, false))
    let closed = 0
    const onClose = () => {
      if (++closed === 2) this.forget(c)
    }
    client.once('close', onClose)
    upstream.once('close', onClose)
    const { resetFraction, resetWithinMs } = this.faults
    if (resetFraction > 0 && this.rng() < resetFraction) c.resetTimer = setTimeout(() => this.reset(c), this.rng() * resetWithinMs)
  }

  /** RST both ends (the client sees ECONNRESET, as when a middlebox or a host drops the connection). */
  private reset(c: Connection, injected = true): void {
    if (!this.open.has(c)) return
    if (injected) this.stats.reset++
    for (const s of [c.client, c.upstream]) {
      if (s.destroyed) continue
      // resetAndDestroy needs a connected socket; one still connecting can only be destroyed.
      if (s.readyState === 'open' || s.readyState === 'readOnly' || s.readyState === 'writeOnly') s.resetAndDestroy()
      else s.destroy()
    }
    this.forget(c)
  }

  private forget(c: Connection): void {
    if (!this.open.delete(c)) return
    clearTimeout(c.resetTimer)
    for (const p of c.pipes) {
      this.stats.bytes += p.bytes
      p.discard()
    }
    if (!c.client.destroyed) c.client.destroy()
    if (!c.upstream.destroyed) c.upstream.destroy()
    this.stats.open = this.open.size
  }

  /** Stop listening and drop every connection. */
  async stop(): Promise<void> {
    const server = this.server
    this.server = undefined
    for (const c of [...this.open]) this.forget(c)
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
