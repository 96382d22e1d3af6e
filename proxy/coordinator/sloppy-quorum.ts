/**
 * Sloppy quorum (Dynamo 4.6): each live primary of the preference list serves as itself; each
 * primary that is down is replaced by the next live node past the first N, which holds the
 * replica as a hint for it. What is left of the fallbacks stays spare for failures met on the way.
 */
import type { NodeRef } from '../../shared/http/node-client.js'

export interface Target {
  node: NodeRef
  /** Set when `node` stands in for this primary. */
  hintFor?: string | undefined
}

export interface TargetPlan {
  primaries: NodeRef[]
  targets: Target[]
  spares: NodeRef[]
  /**
   * Down primaries left without a stand-in (more down than fallbacks): a live target also keeps a
   * hint for each, so the replica is handed off when it returns. These do not count toward W.
   */
  extraHints: Target[]
}

export function planTargets(prefs: readonly NodeRef[], n: number, usable: (id: string) => boolean): TargetPlan {
  const primaries = prefs.slice(0, n)
  const fallbacks = prefs.slice(n).filter((p) => usable(p.id))
  const targets: Target[] = []
  const orphans: NodeRef[] = []
  for (const p of primaries) {
    if (usable(p.id)) targets.push({ node: p })
    else {
      const standIn = fallbacks.shift()
      if (standIn) targets.push({ node: standIn, hintFor: p.id })
      else orphans.push(p)
    }
  }
  const extraHints = targets.length === 0 ? [] : orphans.map((p, i) => ({ node: (targets[i % targets.length] as Target).node, hintFor: p.id }))
  return { primaries, targets, spares: fallbacks, extraHints }
}

/** The stand-in for a target that failed: the next spare, holding a hint for the primary the target served. */
export function replacementFor(failed: Target, spares: NodeRef[]): Target | undefined {
  const next = spares.shift()
  return next ? { node: next, hintFor: failed.hintFor ?? failed.node.id } : undefined
}
