/**
 * Judging a history (pure). A value is identified by the SHA-256 of its bytes. An acknowledged
 * write is lost when its value is absent from the final state and nothing explains the absence:
 * a value may only disappear because a write whose client read it (so whose context covers it)
 * took effect: that write was acknowledged (an absent acknowledged write is judged, and counted,
 * on its own, so one loss is not counted again for everything it had superseded), or its value is
 * present, or was in turn superseded the same way. Anything observed whose hash no client wrote is a phantom; bytes whose hash differs from
 * the ETag the store claimed for them are torn.
 */
import type { ValueRegistry } from './values.js'
import type { WriteAttempt } from './workload.js'

export interface Observation {
  /** Where it was seen: `read`, `final-read`, `replica node-3`... */
  where: string
  key: string
  claimedEtag?: string | undefined
  bodySha256?: string | undefined
}

export interface FinalKey {
  key: string
  /** False when no final read of the key succeeded: its writes cannot be checked. */
  readable: boolean
  /** ETags of the live versions the final read returned (one, or the siblings). */
  etags: readonly string[]
}

export interface LostWrite {
  key: string
  value: string
  client: number
  ackedAt: number
  /** The last acknowledged write of its client on this key. */
  lastOfClient: boolean
  /** Absent from the proxy's final read, but held by a replica: the read, not the data, is at fault. */
  heldByReplica: boolean
}

export interface Anomaly {
  where: string
  key: string
  detail: string
}

export interface Analysis {
  attempted: number
  acknowledged: number
  /** The proxy answered with an error status (503, 409...). */
  refused: number
  /** No answer: connection refused or reset, or a client deadline. Outcome unknown. */
  noAnswer: number
  lost: LostWrite[]
  /** Last acknowledged value of a client on a key, absent because a later write that read it took effect (allowed). */
  lastAckedSuperseded: number
  phantoms: Anomaly[]
  torn: Anomaly[]
  unverifiedKeys: string[]
  /** Live versions beyond one per key in the final read, and keys holding more than one. */
  siblingsLeft: number
  keysWithSiblings: number
  /**
   * Final siblings carrying a value an acknowledged write had read and so superseded: the value
   * lives on under a second version (dot) its reader's context did not cover, e.g. a write
   * committed late by a coordinator the proxy had given up on. Not a loss; a stale sibling.
   */
  resurrected: Anomaly[]
  /** Final siblings whose bytes equal another sibling's of the same key (the same write under two dots). */
  duplicateSiblings: number
}

export function analyze(input: {
  writes: readonly WriteAttempt[]
  registry: ValueRegistry
  observations: readonly Observation[]
  final: readonly FinalKey[]
  /** ETags each key's replicas hold (union over the primaries), to tell a bad read from lost data. */
  replicaEtags: ReadonlyMap<string, ReadonlySet<string>>
}): Analysis {
  const { writes, registry, final } = input
  const finalByKey = new Map(final.map((f) => [f.key, f]))
  const etagOf = (w: WriteAttempt) => registry.info(w.value)?.etag
  const readers = new Map<string, WriteAttempt[]>()
  for (const w of writes) {
    for (const e of w.readEtags) {
      const list = readers.get(e)
      if (list) list.push(w)
      else readers.set(e, [w])
    }
  }

  const present = (key: string, etag: string) => finalByKey.get(key)?.etags.includes(etag) ?? false
  const memo = new Map<string, boolean>()
  /**
   * The value is present, or a write that read it took effect: one that was acknowledged (if that
   * one is absent it is judged, and counted, on its own) or one whose own value is visible.
   */
  const visible = (key: string, etag: string): boolean => {
    const known = memo.get(etag)
    if (known !== undefined) return known
    memo.set(etag, false) // guards against cycles, which a real history cannot have
    const result =
      present(key, etag) ||
      (readers.get(etag) ?? []).some((w) => {
        const e = etagOf(w)
        return w.key === key && e !== undefined && (w.outcome === 'acknowledged' || visible(key, e))
      })
    memo.set(etag, result)
    return result
  }

  const lastAcked = new Map<string, WriteAttempt>()
  for (const w of writes) {
    if (w.outcome !== 'acknowledged') continue
    const id = `${w.key}\0${w.client}`
    const prev = lastAcked.get(id)
    if (!prev || prev.endedAt <= w.endedAt) lastAcked.set(id, w)
  }
  const lastSet = new Set(lastAcked.values())

  const lost: LostWrite[] = []
  let lastAckedSuperseded = 0
  const unverified = new Set<string>()
  for (const w of writes) {
    if (w.outcome !== 'acknowledged') continue
    const f = finalByKey.get(w.key)
    if (!f?.readable) {
      unverified.add(w.key)
      continue
    }
    const etag = etagOf(w)
    const isLast = lastSet.has(w)
    if (etag !== undefined && present(w.key, etag)) continue
    if (etag !== undefined && visible(w.key, etag)) {
      if (isLast) lastAckedSuperseded++
      continue
    }
    lost.push({ key: w.key, value: w.value, client: w.client, ackedAt: w.endedAt, lastOfClient: isLast, heldByReplica: etag !== undefined && (input.replicaEtags.get(w.key)?.has(etag) ?? false) })
  }

  const phantoms: Anomaly[] = []
  const torn: Anomaly[] = []
  const seen = new Set<string>()
  for (const o of input.observations) {
    for (const [what, e] of [
      ['claimed etag', o.claimedEtag],
      ['bytes with sha256', o.bodySha256],
    ] as const) {
      if (e === undefined || registry.nameOf(e) !== undefined) continue
      const id = `${o.where.split(' ')[0]}\0${o.key}\0${e}`
      if (seen.has(id)) continue
      seen.add(id)
      phantoms.push({ where: o.where, key: o.key, detail: `${what} ${e} was written by no client` })
    }
    if (o.claimedEtag !== undefined && o.bodySha256 !== undefined && o.claimedEtag !== o.bodySha256) {
      torn.push({ where: o.where, key: o.key, detail: `bytes hash to ${o.bodySha256}, ETag claims ${o.claimedEtag}` })
    }
  }

  const readable = final.filter((f) => f.readable)
  const resurrected: Anomaly[] = []
  for (const f of readable) {
    for (const e of new Set(f.etags)) {
      const reader = (readers.get(e) ?? []).find((w) => w.key === f.key && w.outcome === 'acknowledged')
      if (reader) resurrected.push({ where: 'final-read', key: f.key, detail: `${registry.nameOf(e) ?? e} was read and superseded by ${reader.value}, yet is still a sibling` })
    }
  }
  return {
    attempted: writes.length,
    acknowledged: writes.filter((w) => w.outcome === 'acknowledged').length,
    refused: writes.filter((w) => w.outcome === 'refused').length,
    noAnswer: writes.filter((w) => w.outcome === 'no-answer').length,
    lost,
    lastAckedSuperseded,
    phantoms,
    torn,
    unverifiedKeys: [...unverified],
    siblingsLeft: readable.reduce((n, f) => n + Math.max(0, f.etags.length - 1), 0),
    keysWithSiblings: readable.filter((f) => f.etags.length > 1).length,
    resurrected,
    duplicateSiblings: readable.reduce((n, f) => n + f.etags.length - new Set(f.etags).size, 0),
  }
}
