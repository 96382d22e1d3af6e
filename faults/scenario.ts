/**
 * The vocabulary of a fault run: a scenario (its nemesis and the cluster it needs), what a nemesis
 * is given, the checker's options, and what one scenario's result reports.
 */
import type { FaultCluster } from './fault-cluster.js'
import type { LostWrite, Anomaly } from './analysis.js'
import type { Workload } from './workload.js'

/** The bucket every scenario writes to. */
export const BUCKET = 'faults'

export interface NemesisEvent {
  /** Seconds since the workload started, and the wall clock (to match log lines). */
  t: number
  at: string
  action: string
  target: string
}

export interface NemesisEnv {
  cluster: FaultCluster
  nodeIds: readonly string[]
  /** Primaries of each key, from the seed writes. */
  prefLists: ReadonlyMap<string, readonly string[]>
  workload: Workload
  rng: () => number
  /** True while the workload runs. */
  active(): boolean
  /** Sleep, waking early when the workload ends. */
  sleep(ms: number): Promise<void>
  note(action: string, target: string): void
}

/** A fault injector. It must undo what it did (restart, SIGCONT) in a finally before it returns. */
export type Nemesis = (env: NemesisEnv) => Promise<void>

export interface Scenario {
  name: string
  description: string
  nemesis?: Nemesis
  /** A self-test of the checker: it must find lost writes (run only when named). */
  expectLoss?: boolean
  /** Large objects: body sizes, and the (smaller) client and key counts. */
  large?: { minBytes: number; maxBytes: number; clients: number; keys: number }
  /**
   * The cluster it needs: absent, the loopback TestCluster; 'netns', every node in its own network
   * namespace; 'netns-links', that plus a link proxy in front of every node (skipped where
   * namespaces or iptables are not available).
   */
  network?: 'netns' | 'netns-links'
}

export interface CheckOptions {
  durationMs: number
  clients: number
  keys: number
  maxOpsPerClient: number
  seed: number
  /** Bound on the wait for every node's pending hints to reach 0 after healing. */
  hintWaitMs: number
  /** Quiet time after the hints are gone, before replicas are compared. */
  settleMs: number
  /** Bound on each wait for the replicas of every key to agree. */
  convergeWaitMs: number
  log?: (line: string) => void
}

export const DEFAULT_CHECK_OPTIONS: CheckOptions = {
  durationMs: 20_000,
  clients: 6,
  keys: 20,
  maxOpsPerClient: 5000,
  seed: 1,
  hintWaitMs: 30_000,
  settleMs: 3000,
  convergeWaitMs: 10_000,
}

export interface TmpFile {
  node: string
  file: string
  bytes: number
  ageS: number
}

export interface ScenarioResult {
  scenario: string
  description: string
  workloadS: number
  attempted: number
  acknowledged: number
  refused: number
  noAnswer: number
  lost: number
  lostLastAcked: number
  lastAckedSuperseded: number
  phantom: number
  torn: number
  unverifiedKeys: number
  siblingsLeft: number
  keysWithSiblings: number
  /** Final siblings holding a value an acknowledged write had superseded, and siblings duplicating another's bytes (see analysis.ts). */
  resurrected: number
  duplicateSiblings: number
  availabilityPct: number
  /** Heal start to every key's primaries holding the same versions; null if they never did within the bounds. */
  convergenceS: number | null
  /** background: hinted handoff and anti-entropy, with no read; read-repair: only after the final reads. */
  convergedBy: 'background' | 'read-repair' | 'never'
  pendingHintsAfterWait: number
  divergentKeysBeforeRepair: number
  divergentKeysAfterRepair: number
  finalReadQuorum: string
  reads: Record<string, number>
  writeStatuses: Record<string, number>
  latencyMs: { putP50: number; putP99: number; putMax: number; getP99: number; getMax: number }
  nemesisEvents: NemesisEvent[]
  nemesisError?: string | undefined
  healed: string[]
  /** Primaries of each key (from the seed writes' pref_list). */
  prefLists: Record<string, readonly string[]>
  tmpFiles: TmpFile[]
  tmpFilesOlderThanTtl: number
  samples: { lost: LostWrite[]; phantoms: Anomaly[]; torn: Anomaly[]; resurrected: Anomaly[]; notFoundReads: string[]; divergent: string[]; errors: string[] }
  wallS: number
}
