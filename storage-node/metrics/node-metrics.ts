/**
 * A storage node's Prometheus metrics, read at scrape time from counters its components keep
 * anyway (gossip, hints, anti-entropy, disk, group commit, siblings, reaper) and from a walk of the
 * data directory (store-usage.ts); only the journal append histogram is fed as groups commit.
 * Labels are node ids, states and parts of the store, never a bucket or key.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { createMetricsRegistry, LATENCY_BUCKETS_S } from '../../shared/http/metrics.js'
import type { CommitStats } from '../../shared/wire/internal-api.js'
import type { TransferProgress } from '../../shared/wire/transfer.js'
import type { HintStats } from '../store/object-store.js'
import type { StoreUsage } from './store-usage.js'

export interface NodeMetricsSources {
  gossip: { readonly stats: { exchanges: number; failures: number; bytesOut: number; bytesIn: number } }
  /** Every member this node knows of (itself included) with its status. */
  members: () => readonly { id: string; status: string }[]
  hintsPending: () => Record<string, HintStats>
  hintsStored: () => ReadonlyMap<string, HintStats>
  hintsDelivered: () => ReadonlyMap<string, number>
  hintsDeliveredBytes: () => ReadonlyMap<string, number>
  siblings: { readonly created: number; readonly resolved: number }
  /** What the store takes on disk (measured now and then: store-usage.ts). */
  storeUsage: () => Promise<StoreUsage>
  antiEntropy: { readonly stats: { rounds: number; keysRepaired: number; versionsPushed: number; versionsPulled: number } }
  disk: () => { freeBytes: number; totalBytes: number; reserveBytes: number; full: boolean }
  commits: () => CommitStats
  reaper: { readonly reaped: number }
  /** The ownership transfer's current or last pass (ring/ownership-transfer.ts). */
  transfer: () => TransferProgress | undefined
  /** Hinted versions of removed nodes handed to their keys' current primaries. */
  hintsRedirected: () => number
}

const STATES = ['up', 'suspect', 'down'] as const

/** A counter that reads its value from `read` at scrape time. */
function counterOf(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset()
      this.inc(read())
    },
  })
}

function gaugeOf(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read())
    },
  })
}

/** A per-target series (counter or gauge) filled at scrape time from a map of target -> value. */
function perTarget(registry: Registry, kind: 'counter' | 'gauge', name: string, help: string, read: () => Iterable<[string, number]>): void {
  const fill = (m: { reset(): void }, set: (target: string, v: number) => void) => {
    m.reset()
    for (const [target, v] of read()) set(target, v)
  }
  if (kind === 'counter') {
    new Counter({
      name,
      help,
      labelNames: ['target'] as const,
      registers: [registry],
      collect() {
        fill(this, (target, v) => this.inc({ target }, v))
      },
    })
  } else {
    new Gauge({
      name,
      help,
      labelNames: ['target'] as const,
      registers: [registry],
      collect() {
        fill(this, (target, v) => this.set({ target }, v))
      },
    })
  }
}

export class NodeMetrics {
  readonly registry: Registry = createMetricsRegistry()
  private readonly append = new Histogram({
    name: 'dynamo_node_journal_append_seconds',
    help: 'Time to append one commit group to the journal, fdatasync included when the node syncs',
    buckets: [...LATENCY_BUCKETS_S],
    registers: [this.registry],
  })

  constructor(s: NodeMetricsSources) {
    const r = this.registry
    counterOf(r, 'dynamo_node_gossip_rounds_total', 'Gossip exchanges completed', () => s.gossip.stats.exchanges)
    counterOf(r, 'dynamo_node_gossip_failures_total', 'Gossip exchanges that failed', () => s.gossip.stats.failures)
    counterOf(r, 'dynamo_node_gossip_sent_bytes_total', 'Bytes of gossip sent', () => s.gossip.stats.bytesOut)
    counterOf(r, 'dynamo_node_gossip_received_bytes_total', 'Bytes of gossip received', () => s.gossip.stats.bytesIn)
    new Gauge({
      name: 'dynamo_node_members',
      help: 'Members this node knows of, by the state gossip gives them',
      labelNames: ['state'] as const,
      registers: [r],
      collect() {
        const members = s.members()
        for (const state of STATES) this.set({ state }, members.filter((m) => m.status === state).length)
      },
    })
    const pending = () => Object.entries(s.hintsPending())
    perTarget(r, 'gauge', 'dynamo_node_hints_pending', 'Hinted versions held for a target node', () => pending().map(([t, h]) => [t, h.versions]))
    perTarget(r, 'gauge', 'dynamo_node_hints_pending_bytes', 'Bytes of hinted versions held for a target node', () => pending().map(([t, h]) => [t, h.bytes]))
    perTarget(r, 'counter', 'dynamo_node_hints_stored_total', 'Versions stored as hints for a target node since start', () => [...s.hintsStored()].map(([t, h]) => [t, h.versions]))
    perTarget(r, 'counter', 'dynamo_node_hints_stored_bytes_total', 'Bytes stored as hints for a target node since start', () => [...s.hintsStored()].map(([t, h]) => [t, h.bytes]))
    perTarget(r, 'counter', 'dynamo_node_hints_delivered_total', 'Hinted versions handed off to their target node since start', () => s.hintsDelivered())
    perTarget(r, 'counter', 'dynamo_node_hints_delivered_bytes_total', 'Bytes of hinted versions handed off to their target node since start', () => s.hintsDeliveredBytes())
    counterOf(r, 'dynamo_node_siblings_created_total', 'Writes this node coordinated whose new version sits beside a live version its context had not seen', () => s.siblings.created)
    counterOf(r, 'dynamo_node_siblings_resolved_total', 'Writes this node coordinated whose context superseded two or more live versions at once', () => s.siblings.resolved)
    new Gauge({
      name: 'dynamo_node_store_bytes',
      help: 'Bytes the store takes on disk (allocated), by part: blobs (object files) or metadata (LMDB and its journal, small objects included); measured at most once a minute',
      labelNames: ['part'] as const,
      registers: [r],
      async collect() {
        const u = await s.storeUsage()
        this.set({ part: 'blobs' }, u.blobBytes)
        this.set({ part: 'metadata' }, u.metadataBytes)
      },
    })
    new Gauge({
      name: 'dynamo_node_store_blob_files',
      help: 'Object files in the store (objects too large to be kept in the metadata); measured at most once a minute',
      registers: [r],
      async collect() {
        this.set((await s.storeUsage()).blobFiles)
      },
    })
    counterOf(r, 'dynamo_node_anti_entropy_exchanges_total', 'Anti-entropy exchanges with a peer', () => s.antiEntropy.stats.rounds)
    counterOf(r, 'dynamo_node_anti_entropy_keys_repaired_total', 'Keys repaired by anti-entropy', () => s.antiEntropy.stats.keysRepaired)
    counterOf(r, 'dynamo_node_anti_entropy_versions_pushed_total', 'Versions anti-entropy pushed to a peer', () => s.antiEntropy.stats.versionsPushed)
    counterOf(r, 'dynamo_node_anti_entropy_versions_pulled_total', 'Versions anti-entropy pulled from a peer', () => s.antiEntropy.stats.versionsPulled)
    gaugeOf(r, 'dynamo_node_disk_free_bytes', 'Free bytes on the data directory filesystem (as last measured, less what was written since)', () => s.disk().freeBytes)
    gaugeOf(r, 'dynamo_node_disk_total_bytes', 'Size of the data directory filesystem', () => s.disk().totalBytes)
    gaugeOf(r, 'dynamo_node_disk_reserve_bytes', 'Free space kept for metadata: below it the node takes no new data', () => s.disk().reserveBytes)
    gaugeOf(r, 'dynamo_node_disk_full', '1 when free space is below the reserve (the node refuses new data)', () => (s.disk().full ? 1 : 0))
    counterOf(r, 'dynamo_node_journal_group_commits_total', 'Commit groups written to the journal', () => s.commits().groups)
    counterOf(r, 'dynamo_node_journal_writes_total', 'Writes committed through the journal', () => s.commits().writes)
    counterOf(r, 'dynamo_node_journal_written_bytes_total', 'Bytes appended to the journal', () => s.commits().journalBytes)
    counterOf(r, 'dynamo_node_journal_checkpoints_total', 'Journal checkpoints into the database', () => s.commits().checkpoints)
    counterOf(r, 'dynamo_node_journal_checkpoint_seconds_total', 'Time spent in journal checkpoints', () => s.commits().checkpointMsTotal / 1000)
    // Ownership transfers (join, decommission, remove): the pass under way, 0 when idle.
    const moving = () => {
      const t = s.transfer()
      return t && (t.phase === 'moving' || t.phase === 'draining') ? t : undefined
    }
    gaugeOf(r, 'dynamo_node_transfer_active', '1 while this node sends keys to new owners (a rebalance or decommission pass, or a decommissioned node draining)', () => (moving() ? 1 : 0))
    gaugeOf(r, 'dynamo_node_transfer_keys_left', 'Keys of the pass under way still to check with their new owners', () => {
      const t = moving()
      return t ? t.keys_total - t.keys_done : 0
    })
    gaugeOf(r, 'dynamo_node_transfer_bytes_left', 'Bytes of the keys still to check in the pass under way', () => {
      const t = moving()
      return t ? t.bytes_total - t.bytes_done : 0
    })
    gaugeOf(r, 'dynamo_node_transfer_rate_bytes_per_second', 'Pace of the pass under way (bytes of keys checked per second)', () => moving()?.bytes_per_s ?? 0)
    gaugeOf(r, 'dynamo_node_transfer_eta_seconds', 'Time the pass under way needs at its pace', () => moving()?.eta_s ?? 0)
    gaugeOf(r, 'dynamo_node_transfer_sent_bytes', 'Bytes sent to new owners for the current change of owners (all its passes)', () => s.transfer()?.bytes_sent ?? 0)
    counterOf(r, 'dynamo_node_hints_redirected_total', "Hinted versions of nodes removed from the ring handed to their keys' current primaries", s.hintsRedirected)
    counterOf(r, 'dynamo_node_tombstones_reaped_total', 'Tombstones removed once every replica had them and the grace period passed', () => s.reaper.reaped)
  }

  /** Feeds the journal append histogram (ms, as the group commit measures). */
  readonly observeAppend = (ms: number): void => {
    this.append.observe(ms / 1000)
  }
}
