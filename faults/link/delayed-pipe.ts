/**
 * One direction of a proxied TCP connection, with each chunk held back by a delay chosen when it
 * arrives. Chunks leave in arrival order (one queue, one timer: a later chunk with a shorter
 * delay waits for the earlier ones, as on a real slow link) and the source is paused while too
 * many bytes wait, so a slow link never buffers without bound.
 */
import type { Socket } from 'node:net'

interface Held {
  chunk: Buffer
  releaseAt: number
}

export class DelayedPipe {
  private readonly queue: Held[] = []
  private queuedBytes = 0
  private timer: NodeJS.Timeout | undefined
  private ended = false
  private waitingForDrain = false
  /** Bytes passed on so far. */
  bytes = 0

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly delayMs: () => number,
    private readonly maxQueuedBytes: number,
  ) {
    from.on('data', (chunk: Buffer) => this.take(chunk))
    from.once('end', () => {
      this.ended = true
      this.pump()
    })
  }

  private take(chunk: Buffer): void {
    const now = Date.now()
    const last = this.queue.at(-1)?.releaseAt ?? now
    this.queue.push({ chunk, releaseAt: Math.max(now + this.delayMs(), last) })
    this.queuedBytes += chunk.length
    if (this.queuedBytes > this.maxQueuedBytes) this.from.pause()
    this.pump()
  }

  private pump(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.to.destroyed || this.waitingForDrain) return
    const now = Date.now()
    while (this.queue.length > 0 && (this.queue[0] as Held).releaseAt <= now) {
      const { chunk } = this.queue.shift() as Held
      this.queuedBytes -= chunk.length
      this.bytes += chunk.length
      if (!this.to.write(chunk)) {
        // The receiver is slower than the delay: wait for it before releasing more.
        this.waitingForDrain = true
        this.to.once('drain', () => {
          this.waitingForDrain = false
          this.pump()
        })
        break
      }
    }
    if (this.queuedBytes <= this.maxQueuedBytes && this.from.isPaused() && !this.from.destroyed) this.from.resume()
    const head = this.queue[0]
    if (head && !this.waitingForDrain) this.timer = setTimeout(() => this.pump(), Math.max(1, head.releaseAt - now))
    else if (!head && this.ended && !this.waitingForDrain) this.to.end()
  }

  /** Drop whatever still waits (the connection is being torn down). */
  discard(): void {
    clearTimeout(this.timer)
    this.queue.length = 0
    this.queuedBytes = 0
  }
}
