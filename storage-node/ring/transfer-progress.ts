/** What a node's ownership transfer reports (GET /health, the proxy's /cluster, `dynamoctl node status`). */
import type { TransferProgress } from '../../shared/wire/transfer.js'

/** A pass (or a joining node's wait) before any key is checked. */
export function emptyProgress(ringVersion: number, phase: TransferProgress['phase'] = 'moving', kind: TransferProgress['kind'] = 'rebalance'): TransferProgress {
  return {
    phase,
    kind,
    ring_version: ringVersion,
    started_at: new Date().toISOString(),
    keys_total: 0,
    keys_done: 0,
    bytes_total: 0,
    bytes_done: 0,
    versions_sent: 0,
    bytes_sent: 0,
    to: {},
    failures: 0,
    passes: 0,
  }
}

/** Pace and time left of a pass started at `startedMs`, from the bytes checked so far (or the keys, for a pass of tombstones and empty objects). */
export function notePace(p: TransferProgress, startedMs: number, now = Date.now()): void {
  const elapsedS = Math.max(0.001, (now - startedMs) / 1000)
  p.bytes_per_s = Math.round(p.bytes_done / elapsedS)
  const leftShare = p.bytes_total > 0 ? (p.bytes_total - p.bytes_done) / Math.max(1, p.bytes_done) : (p.keys_total - p.keys_done) / Math.max(1, p.keys_done)
  p.eta_s = Math.round(elapsedS * leftShare * 10) / 10
}
