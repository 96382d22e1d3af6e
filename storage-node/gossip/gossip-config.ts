/** Gossip tunables with their defaults, in one place (T_gossip, fanout, T_suspect, T_fail, T_cleanup). */
export interface GossipConfig {
  /** T_gossip: own heartbeat bump and one gossip round. */
  intervalMs: number
  /** Peers sent the digest each round; constant, so per-node cost grows with n, not n^2. */
  fanout: number
  suspectAfterMs: number
  /** T_fail. */
  failAfterMs: number
  /** T_cleanup: a member silent this long is forgotten (leaves the ring). */
  cleanupAfterMs: number
}

/** Production defaults: failure noticed in ~5 s, a dead member forgotten after an hour. */
export function defaultGossipConfig(): GossipConfig {
  return { intervalMs: 1000, fanout: 3, suspectAfterMs: 3000, failAfterMs: 5000, cleanupAfterMs: 3_600_000 }
}
