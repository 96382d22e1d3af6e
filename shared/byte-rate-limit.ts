/**
 * A token bucket of bytes per second: `take(n)` resolves once `n` bytes may go (at once when the
 * bucket holds them, else after the time they take to refill). A single take larger than the
 * burst waits for its own share only, so a large object is never stuck. Rate 0: no limit.
 */
export class ByteRateLimit {
  private tokens: number
  private last: number

  constructor(
    private readonly bytesPerSecond: number,
    /** Bytes that may go at once after a pause (default: one second's worth). */
    private readonly burst = bytesPerSecond,
    private readonly now: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    this.tokens = burst
    this.last = now()
  }

  /** How long `n` bytes must wait now (ms), reserving them: callers in turn queue behind each other. */
  reserve(n: number): number {
    if (this.bytesPerSecond <= 0) return 0
    const t = this.now()
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.bytesPerSecond) / 1000)
    this.last = t
    this.tokens -= n
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.bytesPerSecond
  }

  async take(n: number): Promise<void> {
    const wait = this.reserve(n)
    if (wait > 0) await this.sleep(wait)
  }
}
