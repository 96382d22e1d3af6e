/**
 * This node's clock minus each sender's, estimated from the times senders stamp on what they send
 * (the signed timestamp of every internal request and RPC upgrade, the `sentAt` of every RPC call).
 * A sample is receivedAt - sentAt = offset + delay; the estimate is the smallest sample of the last
 * one to two windows, so a message that was delayed (one that waited in a socket while this process
 * was stopped) raises only its own sample, and a clock that was stepped is followed within two
 * windows. Used to read write expiries, which senders set on their own clock, on ours.
 */
interface Windows {
  current: number
  previous: number
  rotatedAt: number
  /** The last estimate, kept when a sender has been silent for two windows. */
  last: number
}

export class ClockOffsets {
  private readonly senders = new Map<string, Windows>()

  constructor(
    private readonly windowMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  sample(sender: string, sentAtMs: number, receivedAtMs: number = this.now()): void {
    const value = receivedAtMs - sentAtMs
    if (!Number.isFinite(value)) return
    const w = this.rotated(sender, receivedAtMs)
    w.current = Math.min(w.current, value)
    w.last = Math.min(w.current, w.previous)
  }

  /** Our clock minus `sender`'s (plus the smallest delay seen); 0 for a sender never heard from. */
  offset(sender: string): number {
    const w = this.senders.get(sender)
    if (!w) return 0
    const best = Math.min(w.current, w.previous)
    return Number.isFinite(best) ? best : w.last
  }

  private rotated(sender: string, at: number): Windows {
    let w = this.senders.get(sender)
    if (!w) {
      w = { current: Number.POSITIVE_INFINITY, previous: Number.POSITIVE_INFINITY, rotatedAt: at, last: 0 }
      this.senders.set(sender, w)
    } else if (at - w.rotatedAt >= this.windowMs) {
      w.previous = at - w.rotatedAt >= 2 * this.windowMs ? Number.POSITIVE_INFINITY : w.current
      w.current = Number.POSITIVE_INFINITY
      w.rotatedAt = at
    }
    return w
  }
}
