/** Heartbeat failure detection (van Renesse et al. 1998): a pure function of a member's silence. */
import type { MemberStatus } from '../../shared/wire/membership.js'

export interface FailureDetectorConfig {
  /** Silence after which a member is `suspect`. */
  suspectAfterMs: number
  /** Silence after which a member is `down` (T_fail). */
  failAfterMs: number
}

/** Status of a member whose heartbeat last grew at `lastGrowthMs`; a member that announced leaving is down at once. */
export function detectStatus(lastGrowthMs: number, left: boolean, nowMs: number, cfg: FailureDetectorConfig): MemberStatus {
  if (left) return 'down'
  const silence = nowMs - lastGrowthMs
  if (silence >= cfg.failAfterMs) return 'down'
  if (silence >= cfg.suspectAfterMs) return 'suspect'
  return 'up'
}
