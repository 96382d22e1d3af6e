/**
 * What every key's primaries hold, asked directly over the signed internal API (never through the
 * proxy, so no read repairs them): which keys diverge, a bounded wait for them to agree, and the
 * hash of every live version's bytes on every replica.
 */
import { createHash } from 'node:crypto'
import type { NodeClient } from '../shared/http/node-client.js'
import { versionId } from '../shared/vclock/versions.js'
import type { Version } from '../shared/wire/internal-api.js'
import type { Observation } from './analysis.js'
import { type FaultCluster, nodeAddressOf } from './fault-cluster.js'
import { BUCKET } from './scenario.js'
import type { ValueRegistry } from './values.js'
import { pause } from './workload.js'

export interface ReplicaState {
  /** Per key: each primary's version ids, or null when it did not answer. */
  held: Map<string, Map<string, Version[] | null>>
  divergent: string[]
  /** Why a replica did not answer (the first error per node), for the report. */
  unreachable: Map<string, string>
}

export async function replicaStates(nodes: NodeClient, cluster: FaultCluster, prefLists: ReadonlyMap<string, readonly string[]>): Promise<ReplicaState> {
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
      const shapes = [...byNode.values()].map((vs) =>
        vs === null
          ? 'unreachable'
          : vs
              .map((v) => versionId(v.dot))
              .sort()
              .join(','),
      )
      if (new Set(shapes).size > 1 || shapes.includes('unreachable')) divergent.push(key)
    }),
  )
  return { held, divergent, unreachable }
}

function refOf(cluster: FaultCluster, id: string): { id: string; address: string } {
  return { id, address: nodeAddressOf(cluster, id) }
}

/** `key: node-1 [version=value ...] node-2 [...]` for the first few divergent keys. */
export function describeDivergence(state: ReplicaState, registry: ValueRegistry, max = 5): string[] {
  return state.divergent.slice(0, max).map((key) => {
    const parts = [...(state.held.get(key) ?? new Map<string, Version[] | null>())].map(([id, vs]) =>
      vs === null
        ? `${id} unreachable (${state.unreachable.get(id) ?? '?'})`
        : `${id} [${vs.map((v) => `${versionId(v.dot)}=${v.tombstone ? 'tombstone' : (registry.nameOf(v.etag) ?? v.etag)}`).join(' ')}]`,
    )
    return `${key}: ${parts.join(' ')}`
  })
}

export async function waitConverged(nodes: NodeClient, cluster: FaultCluster, prefLists: ReadonlyMap<string, readonly string[]>, boundMs: number): Promise<ReplicaState> {
  const deadline = Date.now() + boundMs
  for (let i = 0; i < 1000; i++) {
    const s = await replicaStates(nodes, cluster, prefLists)
    if (s.divergent.length === 0 || Date.now() >= deadline) return s
    await pause(250)
  }
  return replicaStates(nodes, cluster, prefLists)
}

/** Hash every live version's bytes on every primary, to catch torn or invented bytes on disk. */
export async function replicaObservations(nodes: NodeClient, cluster: FaultCluster, state: ReplicaState): Promise<Observation[]> {
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
