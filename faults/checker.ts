/**
 * One fault scenario, end to end, on a running FaultCluster: seed the keys, run the read-modify-write
 * workload with the scenario's nemesis beside it, stop both, heal (restart what is down, SIGCONT
 * what is stopped), wait for hinted handoff, measure convergence of the replicas, read every key
 * through the proxy with R=3 and from every replica with the signed internal API, and judge the
 * history (analysis.ts). Every wait is bounded.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { mulberry32 } from '../devtools/prng.js'
import { MemberSigner } from '../shared/http/member-signer.js'
import { InternalTransport } from '../shared/http/internal-transport.js'
import { NodeClient } from '../shared/http/node-client.js'
import { STAGING_TTL_MS } from '../shared/constants.js'
import { type Analysis, analyze, type FinalKey, type Observation } from './analysis.js'
import { type FaultCluster, nodeIdsOf } from './fault-cluster.js'
import { heal, waitHintsDelivered } from './healing.js'
import { jsonOf, send } from './http-client.js'
import { describeDivergence, replicaObservations, replicaStates, waitConverged } from './replicas.js'
import { BUCKET, type CheckOptions, type NemesisEnv, type NemesisEvent, type Scenario, type ScenarioResult } from './scenario.js'
import { tmpFiles } from './tmp-files.js'
import { ValueRegistry } from './values.js'
import { pause, type ReadResult, readKey, SMALL_TIMEOUTS, Workload, type WriteAttempt } from './workload.js'

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
  for (const [query, quorum] of [
    ['r=3', 'R=3'],
    ['r=3', 'R=3'],
    ['r=3', 'R=3'],
    ['', 'R=2'],
  ] as const) {
    const read = await readKey(base, BUCKET, key, { query, timeouts: SMALL_TIMEOUTS })
    if (read.outcome === 'value' || read.outcome === 'siblings' || read.outcome === 'not-found') return { read, quorum }
    await pause(1000)
  }
  return { read: undefined, quorum: 'failed' }
}

/** Run the workload with the scenario's nemesis beside it; the nemesis is told to stop (and has healed what it did) when the workload ends. */
async function runBesideNemesis(
  cluster: FaultCluster,
  scenario: Scenario,
  workload: Workload,
  prefLists: ReadonlyMap<string, readonly string[]>,
  rng: () => number,
  log: (l: string) => void,
): Promise<{ events: NemesisEvent[]; nemesisError: string | undefined; workloadS: number }> {
  const events: NemesisEvent[] = []
  const stop = new AbortController()
  const workloadStart = Date.now()
  const env: NemesisEnv = {
    cluster,
    nodeIds: nodeIdsOf(cluster),
    prefLists,
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
  return { events, nemesisError, workloadS: (Date.now() - workloadStart) / 1000 }
}

/** Read every key through the proxy (R=3, falling back to R=2): what the history must explain, and the bytes' hashes. */
async function readEveryKey(base: string, keys: readonly string[]): Promise<{ final: FinalKey[]; observations: Observation[]; quorums: Set<string>; errors: string[] }> {
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
  return { final, observations, quorums, errors }
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
  log(`workload: ${large?.clients ?? opts.clients} clients, ${opts.durationMs} ms${scenario.nemesis ? ', nemesis on' : ''}`)
  const { events, nemesisError, workloadS } = await runBesideNemesis(cluster, scenario, workload, seeded.prefLists, rng, log)

  log('healing')
  const healStart = Date.now()
  const healed = await heal(cluster)
  const pending = await waitHintsDelivered(cluster, opts.hintWaitMs)

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

    const { final, observations, quorums, errors } = await readEveryKey(base, keys)

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
        notFoundReads: workload.reads
          .filter((r) => r.outcome === 'not-found')
          .slice(0, 10)
          .map((r) => `${r.key} by client ${r.client} at ${new Date(r.at).toISOString()}: ${r.error ?? ''}`),
        errors: [
          ...errors,
          ...workload.writes
            .filter((w) => w.outcome !== 'acknowledged')
            .slice(0, 5)
            .map((w) => `PUT ${w.key} ${w.status ?? ''} ${w.error ?? ''}`.slice(0, 300)),
        ].slice(0, 20),
      },
      wallS: (Date.now() - wallStart) / 1000,
    }
  } finally {
    transport.close()
  }
}
