/**
 * What a quorum read learned from its replicas: their answers reconciled into the surviving
 * versions, which replica holds each, and the bytes that came along. Pure; shared by the read
 * coordinator (which answers from it) and read repair (which pushes what a replica lacks).
 */
import type { NodeRef } from '../../shared/http/node-client.js'
import { reconcile, versionId } from '../../shared/vclock/versions.js'
import type { Version } from '../../shared/wire/internal-api.js'

/** A replica that answered: a primary, or a stand-in answering from its hints for `hintFor`. */
export interface Holder extends NodeRef {
  hintFor?: string | undefined
}

export interface ReadOutcome {
  /** Surviving versions, tombstones included (their clocks belong in the context). */
  versions: Version[]
  /** Which answering replicas hold each version. */
  holders: Map<string, Holder[]>
  /** Bytes that came with an answer (one live small version), by version id. */
  inline: Map<string, Buffer>
}

/** One replica's answer to a read. */
export interface Answer {
  node: Holder
  versions: Version[]
  /** Bytes of the answer's one live version, when the replica sent them along. */
  data?: Buffer | undefined
}

/** Reconcile the answers of several replicas and note who holds what. */
export function merge(answers: readonly Answer[]): ReadOutcome {
  const versions = reconcile(...answers.map((a) => a.versions))
  const holders = new Map<string, Holder[]>()
  const inline = new Map<string, Buffer>()
  for (const v of versions) holders.set(versionId(v.dot), [])
  for (const a of answers) {
    for (const v of a.versions) holders.get(versionId(v.dot))?.push(a.node)
    const live = a.versions.filter((v) => !v.tombstone)
    if (a.data && live.length === 1 && holders.has(versionId((live[0] as Version).dot))) inline.set(versionId((live[0] as Version).dot), a.data)
  }
  return { versions, holders, inline }
}

/** True when some answer lacks a version another answer has (or holds one the merge dropped). */
export function disagree(answers: readonly Answer[]): boolean {
  const merged = new Set(reconcile(...answers.map((a) => a.versions)).map((v) => versionId(v.dot)))
  return answers.some((a) => a.versions.length !== merged.size || a.versions.some((v) => !merged.has(versionId(v.dot))))
}
