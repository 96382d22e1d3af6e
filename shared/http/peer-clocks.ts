/**
 * What a member knows of its peers' clocks: for each peer address, its clock minus ours, learned
 * from the authenticated times peers put in their answers (signing.ts timeProof). A sample is
 * theirTime - midpoint(sent, received), good to half the round trip; the estimate is the sample
 * with the shortest round trip of the last one to two windows. A refusal for a stale timestamp
 * replaces the estimate at once (the peer's clock was stepped, or this is the first contact).
 * Signers add the estimate to their own clock, so members whose clocks disagree by minutes still
 * authenticate within the receiver's tight window.
 */

/** Offsets beyond this are reported (log, /health, /cluster): clocks should agree far better under NTP. */
export const CLOCK_WARN_MS = 1000

interface Best {
  offsetMs: number
  rttMs: number
}

interface Peer {
  current: Best | undefined
  previous: Best | undefined
  rotatedAt: number
  /** The last offset reported through onReport (for the warning's edges). */
  reported: number
}

export type ClockReport = (address: string, offsetMs: number, previousMs: number) => void

export class PeerClocks {
  private readonly peers = new Map<string, Peer>()

  constructor(
    private readonly windowMs = 30_000,
    private readonly now: () => number = Date.now,
    /** Called when a peer's offset crosses CLOCK_WARN_MS, or moves by more than it while beyond. */
    private readonly onReport?: ClockReport,
  ) {}

  /** Their clock minus ours for `address` (0 until a peer has answered). */
  offset(address: string): number {
    const p = this.peers.get(address)
    if (!p) return 0
    return best(p.current, p.previous)?.offsetMs ?? 0
  }

  /** Our clock as `address` reads it, as well as we know. */
  theirNow(address: string): number {
    return this.now() + this.offset(address)
  }

  /** An authenticated answer from `address` said `theirTimeMs`; we sent at `sentAt` and read it at `receivedAt` (our clock). */
  sample(address: string, theirTimeMs: number, sentAt: number, receivedAt: number, replace = false): void {
    const s: Best = { offsetMs: Math.round(theirTimeMs - (sentAt + receivedAt) / 2), rttMs: Math.max(0, receivedAt - sentAt) }
    let p = this.peers.get(address)
    if (!p) {
      p = { current: undefined, previous: undefined, rotatedAt: receivedAt, reported: 0 }
      this.peers.set(address, p)
    } else if (receivedAt - p.rotatedAt >= this.windowMs) {
      p.previous = receivedAt - p.rotatedAt >= 2 * this.windowMs ? undefined : p.current
      p.current = undefined
      p.rotatedAt = receivedAt
    }
    if (replace) {
      p.current = s
      p.previous = undefined
    } else p.current = best(p.current, s)
    this.report(address, p)
  }

  /** Every peer heard from, with its offset. */
  all(): { address: string; offsetMs: number }[] {
    return [...this.peers.keys()].map((address) => ({ address, offsetMs: this.offset(address) }))
  }

  private report(address: string, p: Peer): void {
    const now = this.offset(address)
    const beyond = Math.abs(now) > CLOCK_WARN_MS
    const was = Math.abs(p.reported) > CLOCK_WARN_MS
    if (beyond !== was || (beyond && Math.abs(now - p.reported) > CLOCK_WARN_MS)) {
      const previous = p.reported
      p.reported = now
      this.onReport?.(address, now, previous)
    }
  }
}

function best(a: Best | undefined, b: Best | undefined): Best | undefined {
  if (!a) return b
  if (!b) return a
  return b.rttMs <= a.rttMs ? b : a
}

/** The peers heard from, by id where `members` knows the address, with their offsets (for /health). */
export function clockReport(clocks: PeerClocks, members: { peers(): { id: string; address: string }[] }): { id: string; address: string; offset_ms: number; off: boolean }[] {
  const ids = new Map(members.peers().map((p) => [p.address, p.id]))
  return clocks
    .all()
    .map(({ address, offsetMs }) => ({ id: ids.get(address) ?? address, address, offset_ms: offsetMs, off: Math.abs(offsetMs) > CLOCK_WARN_MS }))
    .sort((a, b) => (a.id < b.id ? -1 : 1))
}
