/**
 * One fault scenario, end to end, on a running FaultCluster: seed the keys, run the read-modify-write
 * workload with the scenario's nemesis beside it, stop both, heal (restart what is down, SIGCONT
 * what is stopped), wait for hinted handoff, measure convergence of the replicas, read every key
 * through the proxy with R=3 and from every replica with the signed internal API, and judge the
 * history (analysis.ts). Every wait is bounded.
 */
import { mulberry32 } from '../devtools/prng.js'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { runningPid } from '../cluster-ctl/launcher.js'
import { MemberSigner } from '../shared/http/member-signer.js'
import { InternalTransport } from '../shared/http/internal-transport.js'
import { NodeClient } from '../shared/http/node-client.js'
import { STAGING_TTL_MS } from '../shared/constants.js'
import { versionId } from '../shared/vclock/versions.js'
import type { Version } from '../shared/wire/internal-api.js'
import { type Analysis, analyze, type Anomaly, type FinalKey, type LostWrite, type Observation } from './analysis.js'
import { type FaultCluster, nodeAddressOf } from './fault-cluster.js'
import { jsonOf, send } from './http-client.js'
import { ValueRegistry } from './values.js'
import { pause, type ReadResult, readKey, SMALL_TIMEOUTS, Workload, type WriteAttempt } from './workload.js'

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

const BUCKET = 'faults'

export function nodeIdsOf(cluster: FaultCluster): string[] {
  return cluster.layout.nodePorts.map((_, i) => `node-${i + 1}`)
}

/** Undo network faults, restart every process that is down and SIGCONT every one that runs (a stopped one resumes). */
export async function heal(cluster: FaultCluster): Promise<string[]> {
  const healed: string[] = []
  if (cluster.net) {
    // The nemesis heals in its finally; this is the check that nothing was left in force.
    const left = await cluster.net.rulesInForce()
    await cluster.net.heal()
    if (Object.keys(left).length > 0) healed.push(`iptables rules on ${Object.keys(left).join(', ')}`)
  }
  for (const name of [...nodeIdsOf(cluster), 'proxy']) {
    const pid = runningPid(cluster.layout, name)
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGCONT')
      } catch {}
      continue
    }
    await cluster.restart(name)
    healed.push(name)
  }
  for (const id of nodeIdsOf(cluster)) await cluster.waitForStatus(id, 'up', 20_000)
  return healed
}

/** Sum of hinted versions every node still holds for others (a node that does not answer counts as 1). */
export async function pendingHints(cluster: FaultCluster): Promise<number> {
  const counts = await Promise.all(
    nodeIdsOf(cluster).map(async (id) => {
      try {
        const a = await send({ method: 'GET', url: `${cluster.nodeUrl(id)}/health`, totalTimeoutMs: 2000 })
        const body = jsonOf(a) as { hints?: Record<string, { versions?: number }> } | undefined
        if (a.status !== 200 || !body?.hints) return 1
        return Object.values(body.hints).reduce((n, h) => n + (h.versions ?? 0), 0)
      } catch {
        return 1
      }
    }),
  )
  return counts.reduce((a, b) => a + b, 0)
}

interface ReplicaState {
  /** Per key: each primary's version ids, or null when it did not answer. */
  held: Map<string, Map<string, Version[] | null>>
  divergent: string[]
  /** Why a replica did not answer (the first error per node), for the report. */
  unreachable: Map<string, string>
}

async function replicaStates(nodes: NodeClient, cluster: FaultCluster, prefLists: ReadonlyMap<string, readonly string[]>): Promise<ReplicaState> {
  const held = new Map<string, Map<string, Version[] | null>>()
  const divergent: string[] = []
  const unreachable = new Map<string, string>()
  await Promise.all(
    [...prefLists].map(async ([key, prefs]) => {
      const byNode = new Map<string, Version[] | null>()
      for (const id of prefs) {
        try {
          byNode.set(id, (await nodes.versions(refOf(cluster, id), BUCKET, key)).versions)
        } catch (err) {
          byNode.set(id, null)
          if (!unreachable.has(id)) unreachable.set(id, err instanceof Error ? err.message : String(err))
        }
      }
      held.set(key, byNode)
      const shapes = [...byNode.values()].map((vs) => (vs === null ? 'unreachable' : vs.map((v) => versionId(v.dot)).sort().join(',')))
      if (new Set(shapes).size > 1 || shapes.includes('unreachable')) divergent.push(key)
    }),
  )
  return { held, divergent, unreachable }
}

function refOf(cluster: FaultCluster, id: string): { id: string; address: string } {
  return { id, address: nodeAddressOf(cluster, id) }
}

/** `key: node-1 [version=value ...] node-2 [...]` for the first few divergent keys. */
function describeDivergence(state: ReplicaState, registry: ValueRegistry, max = 5): string[] {
  return state.divergent.slice(0, max).map((key) => {
    const parts = [...(state.held.get(key) ?? new Map<string, Version[] | null>())].map(([id, vs]) =>
      vs === null ? `${id} unreachable (${state.unreachable.get(id) ?? '?'})` : `${id} [${vs.map((v) => `${versionId(v.dot)}=${v.tombstone ? 'tombstone' : (registry.nameOf(v.etag) ?? v.etag)}`).join(' ')}]`,
    )
    return `${key}: ${parts.join(' ')}`
  })
}

async function waitConverged(nodes: NodeClient, cluster: FaultCluster, prefLists: ReadonlyMap<string, readonly string[]>, boundMs: number): Promise<ReplicaState> {
  const deadline = Date.now() + boundMs
  for (let i = 0; i < 1000; i++) {
    const s = await replicaStates(nodes, cluster, prefLists)
    if (s.divergent.length === 0 || Date.now() >= deadline) return s
    await pause(250)
  }
  return replicaStates(nodes, cluster, prefLists)
}

/** Hash every live version's bytes on every primary, to catch torn or invented bytes on disk. */
async function replicaObservations(nodes: NodeClient, cluster: FaultCluster, state: ReplicaState): Promise<Observation[]> {
  const out: Observation[] = []
  for (const [key, byNode] of state.held) {
    for (const [id, versions] of byNode) {
      for (const v of versions ?? []) {
        if (v.tombstone) continue
        const o: Observation = { where: `replica ${id}`, key, claimedEtag: v.etag }
        try {
          const stream = await nodes.openData(refOf(cluster, id), BUCKET, key, versionId(v.dot))
          const hash = createHash('sha256')
          const timer = setTimeout(() => stream.destroy(new Error('replica data read took over 60 s')), 60_000)
          try {
            for await (const chunk of stream as AsyncIterable<Buffer>) hash.update(chunk)
          } finally {
            clearTimeout(timer)
          }
          o.bodySha256 = hash.digest('hex')
        } catch {
          // Unreadable bytes are reported through divergence, not as torn.
        }
        out.push(o)
      }
    }
  }
  return out
}

function tmpFiles(cluster: FaultCluster): TmpFile[] {
  const out: TmpFile[] = []
  const now = Date.now()
  for (const id of nodeIdsOf(cluster)) {
    const dir = join(cluster.layout.dataDir, id, 'tmp')
    let names: string[] = []
    try {
      names = readdirSync(dir)
    } catch {
      continue
    }
    for (const file of names) {
      try {
        const st = statSync(join(dir, file))
        out.push({ node: id, file, bytes: st.size, ageS: Math.round((now - st.mtimeMs) / 100) / 10 })
      } catch {}
    }
  }
  return out
}

function count<T>(xs: readonly T[], f: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const x of xs) out[f(x)] = (out[f(x)] ?? 0) + 1
  return out
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number)
}

async function seedKeys(base: string, keys: readonly string[], registry: ValueRegistry, log: (l: string) => void): Promise<{ writes: WriteAttempt[]; prefLists: Map<string, string[]> }> {
  const writes: WriteAttempt[] = []
  const prefLists = new Map<string, string[]>()
  for (const key of keys) {
    const { info, body } = registry.small(`seed-${key}`)
    for (let attempt = 0; attempt < 10 && !prefLists.has(key); attempt++) {
      const startedAt = Date.now()
      try {
        const a = await send({ method: 'PUT', url: `${base}/buckets/${BUCKET}/files/${encodeURIComponent(key)}`, body, totalTimeoutMs: SMALL_TIMEOUTS.totalMs })
        const ok = a.status === 201
        writes.push({ key, value: info.name, client: 0, op: -1, readEtags: [], startedAt, endedAt: Date.now(), outcome: ok ? 'acknowledged' : 'refused', status: a.status, latencyMs: a.latencyMs })
        const answer = jsonOf(a) as { pref_list?: string[] } | undefined
        if (ok && answer?.pref_list) prefLists.set(key, answer.pref_list)
      } catch (err) {
        log(`seed ${key}: ${String(err)}`)
      }
      if (!prefLists.has(key)) await pause(300)
    }
    if (!prefLists.has(key)) throw new Error(`could not seed key ${key}`)
  }
  return { writes, prefLists }
}

async function finalRead(base: string, key: string): Promise<{ read: ReadResult | undefined; quorum: string }> {
  for (const [query, quorum] of [['r=3', 'R=3'], ['r=3', 'R=3'], ['r=3', 'R=3'], ['', 'R=2']] as const) {
    const read = await readKey(base, BUCKET, key, { query, timeouts: SMALL_TIMEOUTS })
    if (read.outcome === 'value' || read.outcome === 'siblings' || read.outcome === 'not-found') return { read, quorum }
    await pause(1000)
  }
  return { read: undefined, quorum: 'failed' }
}

export async function runScenario(cluster: FaultCluster, scenario: Scenario, opts: CheckOptions): Promise<ScenarioResult> {
  const wallStart = Date.now()
  const log = (l: string) => opts.log?.(`[${scenario.name}] ${l}`)
  const rng = mulberry32(opts.seed)
  const registry = new ValueRegistry()
  const large = scenario.large
  const keyCount = large?.keys ?? opts.keys
  const keys = Array.from({ length: keyCount }, (_, i) => (large ? `big-${i}` : `key-${i}`))
  const base = cluster.url

  const created = await send({ method: 'POST', url: `${base}/buckets/${BUCKET}`, totalTimeoutMs: 10_000 })
  if (created.status !== 201) throw new Error(`create bucket: ${created.status} ${created.body.toString()}`)
  log(`seeding ${keys.length} keys`)
  const seeded = await seedKeys(base, keys, registry, log)

  const workload = new Workload(
    {
      base,
      bucket: BUCKET,
      keys,
      clients: large?.clients ?? opts.clients,
      durationMs: opts.durationMs,
      maxOpsPerClient: opts.maxOpsPerClient,
      largeBytes: large ? { min: large.minBytes, max: large.maxBytes } : undefined,
      rng,
    },
    registry,
  )
  const events: NemesisEvent[] = []
  const stop = new AbortController()
  const workloadStart = Date.now()
  const env: NemesisEnv = {
    cluster,
    nodeIds: nodeIdsOf(cluster),
    prefLists: seeded.prefLists,
    workload,
    rng,
    active: () => !stop.signal.aborted,
    sleep: (ms) =>
      new Promise((resolve) => {
        if (stop.signal.aborted) return resolve()
        const timer = setTimeout(done, ms)
        function done() {
          clearTimeout(timer)
          stop.signal.removeEventListener('abort', done)
          resolve()
        }
        stop.signal.addEventListener('abort', done)
      }),
    note: (action, target) => {
      events.push({ t: Math.round((Date.now() - workloadStart) / 100) / 10, at: new Date().toISOString(), action, target })
      log(`${action} ${target}`)
    },
  }
  log(`workload: ${large?.clients ?? opts.clients} clients, ${opts.durationMs} ms${scenario.nemesis ? ', nemesis on' : ''}`)
  let nemesisError: string | undefined
  const nemesis = (scenario.nemesis ?? (async () => undefined))(env).catch((err: unknown) => {
    nemesisError = err instanceof Error ? err.message : String(err)
    log(`nemesis failed: ${nemesisError}`)
  })
  try {
    await workload.run()
  } finally {
    stop.abort()
    await nemesis
  }
  const workloadS = (Date.now() - workloadStart) / 1000

  log('healing')
  const healStart = Date.now()
  const healed = await heal(cluster)
  const hintDeadline = Date.now() + opts.hintWaitMs
  let pending = await pendingHints(cluster)
  for (let i = 0; i < 1000 && pending > 0 && Date.now() < hintDeadline; i++) {
    await pause(250)
    pending = await pendingHints(cluster)
  }

  const secret = readFileSync(join(cluster.layout.runDir, 'cluster.secret'), 'utf8').trim()
  const transport = new InternalTransport({ signer: new MemberSigner({ secret, selfId: 'fault-checker' }) })
  const nodes = new NodeClient(transport)
  try {
    // Converged: no hints pending and every key's primaries hold the same versions, without help from reads.
    const agreed = pending === 0 ? await waitConverged(nodes, cluster, seeded.prefLists, opts.convergeWaitMs) : undefined
    let convergedAt: number | null = agreed?.divergent.length === 0 ? Date.now() : null
    log(`pending hints ${pending}; ${convergedAt === null ? 'replicas not converged' : `converged after ${(convergedAt - healStart) / 1000} s`}; settling ${opts.settleMs} ms`)
    await pause(opts.settleMs)
    const before = await replicaStates(nodes, cluster, seeded.prefLists)
    if (before.divergent.length > 0) convergedAt = null
    let convergedBy: ScenarioResult['convergedBy'] = convergedAt !== null ? 'background' : 'never'
    log(`divergent keys before read repair: ${before.divergent.length}`)

    const final: FinalKey[] = []
    const observations: Observation[] = []
    const quorums = new Set<string>()
    const errors: string[] = []
    for (const key of keys) {
      const { read, quorum } = await finalRead(base, key)
      quorums.add(quorum)
      if (!read) errors.push(`final read of ${key} failed`)
      final.push({ key, readable: read !== undefined, etags: (read?.versions ?? []).flatMap((v) => (v.claimedEtag ? [v.claimedEtag] : [])) })
      for (const v of read?.versions ?? []) {
        observations.push({ where: 'final-read', key, claimedEtag: v.claimedEtag, bodySha256: v.bodySha256 })
        if (!v.bodySha256) errors.push(`final read of ${key}: sibling ${v.versionId} unreadable (${v.fetchStatus ?? v.fetchError})`)
      }
      if (read?.outcome === 'not-found') errors.push(`final read of ${key}: 404`)
    }

    let after = before
    if (before.divergent.length > 0) {
      after = await waitConverged(nodes, cluster, seeded.prefLists, opts.convergeWaitMs)
      if (after.divergent.length === 0) {
        convergedAt = Date.now()
        convergedBy = 'read-repair'
      }
    }
    log(`divergent keys after read repair: ${after.divergent.length}`)
    const replicaEtags = new Map<string, Set<string>>()
    for (const [key, byNode] of after.held) {
      const set = new Set<string>()
      for (const vs of byNode.values()) for (const v of vs ?? []) if (!v.tombstone) set.add(v.etag)
      replicaEtags.set(key, set)
    }
    observations.push(...(await replicaObservations(nodes, cluster, after)))
    for (const r of workload.reads) for (const v of r.versions) observations.push({ where: 'read', key: r.key, claimedEtag: v.claimedEtag, bodySha256: v.bodySha256 })

    const writes = [...seeded.writes, ...workload.writes]
    const a: Analysis = analyze({ writes, registry, observations, final, replicaEtags })
    const tmp = tmpFiles(cluster)
    const puts = workload.writes.map((w) => w.latencyMs)
    const gets = workload.reads.map((r) => r.maxRequestMs)
    return {
      scenario: scenario.name,
      description: scenario.description,
      workloadS,
      attempted: a.attempted,
      acknowledged: a.acknowledged,
      refused: a.refused,
      noAnswer: a.noAnswer,
      lost: a.lost.length,
      lostLastAcked: a.lost.filter((l) => l.lastOfClient).length,
      lastAckedSuperseded: a.lastAckedSuperseded,
      phantom: a.phantoms.length,
      torn: a.torn.length,
      unverifiedKeys: a.unverifiedKeys.length,
      siblingsLeft: a.siblingsLeft,
      keysWithSiblings: a.keysWithSiblings,
      resurrected: a.resurrected.length,
      duplicateSiblings: a.duplicateSiblings,
      availabilityPct: a.attempted === 0 ? 0 : Math.round((1000 * a.acknowledged) / a.attempted) / 10,
      convergenceS: convergedAt === null ? null : Math.round((convergedAt - healStart) / 100) / 10,
      convergedBy,
      pendingHintsAfterWait: pending,
      divergentKeysBeforeRepair: before.divergent.length,
      divergentKeysAfterRepair: after.divergent.length,
      finalReadQuorum: [...quorums].join('+'),
      reads: count(workload.reads, (r) => r.outcome),
      writeStatuses: count(workload.writes, (w) => (w.status !== undefined ? String(w.status) : w.outcome)),
      latencyMs: { putP50: percentile(puts, 50), putP99: percentile(puts, 99), putMax: percentile(puts, 100), getP99: percentile(gets, 99), getMax: percentile(gets, 100) },
      nemesisEvents: events,
      nemesisError,
      healed,
      prefLists: Object.fromEntries(seeded.prefLists),
      tmpFiles: tmp,
      tmpFilesOlderThanTtl: tmp.filter((f) => f.ageS * 1000 > STAGING_TTL_MS).length,
      samples: {
        lost: a.lost.slice(0, 10),
        phantoms: a.phantoms.slice(0, 10),
        torn: a.torn.slice(0, 10),
        resurrected: a.resurrected.slice(0, 10),
        divergent: describeDivergence(before, registry),
        notFoundReads: workload.reads.filter((r) => r.outcome === 'not-found').slice(0, 10).map((r) => `${r.key} by client ${r.client} at ${new Date(r.at).toISOString()}: ${r.error ?? ''}`),
        errors: [
          ...errors,
          ...workload.writes.filter((w) => w.outcome !== 'acknowledged').slice(0, 5).map((w) => `PUT ${w.key} ${w.status ?? ''} ${w.error ?? ''}`.slice(0, 300)),
        ].slice(0, 20),
      },
      wallS: (Date.now() - wallStart) / 1000,
    }
  } finally {
    transport.close()
  }
}
