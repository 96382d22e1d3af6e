/**
 * Cuts request bodies that trickle: a body that delivered fewer than `minBytesPerSec` on average
 * over the last `windowMs`, while the server was waiting for it, gets 408 and its connection
 * closed, so a slow or stalled client cannot hold a request (and the staged uploads behind it)
 * open for as long as it likes. Time spent while the server itself is not reading (backpressure
 * from a slow replica: bytes sit unread in the request's buffer) is not held against the client.
 * One timer for all requests; each request costs a set insertion.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Middleware } from 'koa'
import { RequestTimeoutError, toErrorResponse } from '../errors.js'

export interface SlowBodyGuardInit {
  windowMs: number
  minBytesPerSec: number
}

interface Watched {
  req: IncomingMessage
  res: ServerResponse
  bytesAtMark: number
  markAt: number
}

export class SlowBodyGuard {
  private readonly watched = new Set<Watched>()
  private readonly timer: NodeJS.Timeout

  constructor(private readonly init: SlowBodyGuardInit) {
    this.timer = setInterval(() => this.sweep(Date.now()), Math.max(50, Math.floor(init.windowMs / 4)))
    this.timer.unref()
  }

  middleware(): Middleware {
    return async (ctx, next) => {
      const hasBody = ctx.req.headers['transfer-encoding'] !== undefined || Number(ctx.req.headers['content-length'] ?? 0) > 0
      if (!hasBody || this.init.minBytesPerSec <= 0) return next()
      const w: Watched = { req: ctx.req, res: ctx.res, bytesAtMark: ctx.req.socket.bytesRead, markAt: Date.now() }
      this.watched.add(w)
      try {
        await next()
      } finally {
        this.watched.delete(w)
      }
    }
  }

  /** Exposed for tests: check every watched body at `now`. */
  sweep(now: number): void {
    for (const w of this.watched) {
      if (w.req.complete || w.req.destroyed) {
        this.watched.delete(w)
        continue
      }
      const bytes = w.req.socket.bytesRead
      // Unread bytes in the request's buffer: the server is the slow one (it is not reading; when a
      // pipe pauses the request, what arrives meanwhile piles up there), so start the window again.
      // (Not isPaused(): an async iterator reading the body also leaves the stream non-flowing.)
      if (w.req.readableLength > 0) {
        w.bytesAtMark = bytes
        w.markAt = now
        continue
      }
      const elapsed = now - w.markAt
      if (elapsed < this.init.windowMs) continue
      if (bytes - w.bytesAtMark < (this.init.minBytesPerSec * elapsed) / 1000) this.cut(w, elapsed)
      else {
        w.bytesAtMark = bytes
        w.markAt = now
      }
    }
  }

  private cut(w: Watched, elapsedMs: number): void {
    this.watched.delete(w)
    const err = new RequestTimeoutError(`request body slower than ${this.init.minBytesPerSec} bytes/s over ${Math.round(elapsedMs / 1000)} s`)
    // The handler's reads of the body fail with this error (so what it staged is cleaned up) once
    // the 408 has gone out: destroying the socket at once could turn the answer into a reset.
    const drop = () => {
      w.req.destroy(err)
    }
    if (w.res.headersSent) {
      drop()
      return
    }
    const { status, body } = toErrorResponse(err)
    w.res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' })
    w.res.end(JSON.stringify(body), drop)
    setTimeout(drop, 1000).unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }
}
