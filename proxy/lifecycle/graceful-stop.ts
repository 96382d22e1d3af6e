/**
 * A proxy's graceful stop (SIGTERM), in the order a load balancer in front needs: `/health` answers
 * 503 at once, so the balancer takes the proxy out, while requests are still served for `drainMs`
 * (HAProxy's checks in deploy/ need two failures a second apart); then the listeners close (no new
 * connections; a keep-alive connection is closed after its current answer), the requests in flight
 * finish (up to `timeoutMs`, then their connections are cut), and the caller exits.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type Koa from 'koa'
import type { Logger } from '../../shared/log.js'

export interface GracefulStopConfig {
  /** How long the proxy keeps serving, with /health at 503, before it stops accepting. */
  drainMs: number
  /** How long requests in flight may take after that before their connections are cut. */
  timeoutMs: number
}

export class GracefulStop {
  private stopping = false
  private inFlight = 0
  private readonly servers: Server[] = []

  constructor(private readonly log: Logger) {}

  /** Counts the requests `server` is answering; it is closed by stop(). */
  track(server: Server): void {
    this.servers.push(server)
    server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
      this.inFlight++
      res.once('close', () => this.inFlight--)
      // Stopping: the client opens its next request elsewhere.
      if (this.stopping) res.setHeader('Connection', 'close')
    })
  }

  /** First of the native API's middleware: while stopping, `GET /health` answers 503 `{"status": "stopping"}`. */
  healthMiddleware(): Koa.Middleware {
    return async (ctx, next) => {
      if (this.stopping && ctx.path === '/health') {
        ctx.status = 503
        ctx.body = { status: 'stopping' }
        return
      }
      await next()
    }
  }

  get isStopping(): boolean {
    return this.stopping
  }

  /** Drain, close, wait for requests in flight; resolves when nothing is left to answer (or the time is up). */
  async stop(cfg: GracefulStopConfig): Promise<{ cut: number }> {
    if (this.stopping) return { cut: 0 }
    this.stopping = true
    this.log.info({ drainMs: cfg.drainMs, inFlight: this.inFlight }, 'stopping: /health answers 503, still serving while load balancers notice')
    await sleep(cfg.drainMs)
    for (const s of this.servers) s.close()
    this.log.info({ inFlight: this.inFlight }, 'stopping: no new connections; finishing requests in flight')
    const deadline = Date.now() + cfg.timeoutMs
    while (this.inFlight > 0 && Date.now() < deadline) {
      for (const s of this.servers) s.closeIdleConnections()
      await sleep(50)
    }
    const cut = this.inFlight
    for (const s of this.servers) s.closeAllConnections()
    if (cut > 0) this.log.warn({ cut }, 'stopping: requests still in flight after the stop timeout were cut')
    return { cut }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
