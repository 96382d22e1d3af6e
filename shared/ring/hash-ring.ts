/**
 * Consistent hashing with virtual nodes (Dynamo 4.2). The preference list of a position is every
 * distinct physical node clockwise from it: the first N are the key's replicas, the rest are the
 * fallbacks that sloppy quorum uses, in order.
 */
import { DEFAULT_VNODES } from '../constants.js'
import { ringPosition } from './hash.js'

interface Point {
  readonly position: number
  readonly node: string
}

export class HashRing {
  private readonly points: Point[]
  readonly nodes: readonly string[]

  /** Deterministic: the same node ids give the same ring on every process. */
  constructor(
    nodes: Iterable<string>,
    readonly vnodesPerNode: number = DEFAULT_VNODES,
  ) {
    this.nodes = [...new Set(nodes)].sort()
    this.points = []
    for (const node of this.nodes) {
      for (let i = 0; i < vnodesPerNode; i++) this.points.push({ position: ringPosition(`${node}#${i}`), node })
    }
    this.points.sort((a, b) => a.position - b.position || (a.node < b.node ? -1 : 1))
  }

  /** All physical nodes in preference order from `position`: primaries first, then fallbacks. */
  preferenceList(position: number): string[] {
    const out: string[] = []
    if (this.points.length === 0) return out
    const seen = new Set<string>()
    const start = this.firstPointAtOrAfter(position)
    for (let i = 0; i < this.points.length && seen.size < this.nodes.length; i++) {
      const p = this.points[(start + i) % this.points.length] as Point
      if (!seen.has(p.node)) {
        seen.add(p.node)
        out.push(p.node)
      }
    }
    return out
  }

  /** Share of the ring each node is the first owner of (for /cluster). */
  ownership(): Record<string, number> {
    const share: Record<string, number> = {}
    const total = 2 ** 32
    this.points.forEach((p, i) => {
      const prev = i === 0 ? (this.points[this.points.length - 1] as Point).position - total : (this.points[i - 1] as Point).position
      share[p.node] = (share[p.node] ?? 0) + (p.position - prev) / total
    })
    return share
  }

  /**
   * The ring cut into arcs, each with the node first in the preference list of every position in
   * it: `(start, end]` ends at one of the node's virtual nodes, and neighbouring arcs of one node are
   * merged. Positions are 0..2^32; the arc that wraps past 2^32 comes first, with `start` above `end` (one node alone: `start` equals `end`, the whole ring).
   */
  ranges(): { start: number; end: number; node: string }[] {
    const out: { start: number; end: number; node: string }[] = []
    if (this.points.length === 0) return out
    let prev = (this.points[this.points.length - 1] as Point).position
    for (const p of this.points) {
      const last = out[out.length - 1]
      if (last && last.node === p.node) last.end = p.position
      else out.push({ start: prev, end: p.position, node: p.node })
      prev = p.position
    }
    const first = out[0] as { start: number; end: number; node: string }
    const last = out[out.length - 1] as { start: number; end: number; node: string }
    // The last arc ends at the last point, from which the first arc starts: one node's wrap is one arc.
    if (out.length > 1 && last.node === first.node) {
      first.start = last.start
      out.pop()
    }
    return out
  }

  /** Which arc `position` falls in: the index of the virtual node ending it (arcs between consecutive virtual nodes, finer than `ranges()`). */
  arcOf(position: number): number {
    return this.firstPointAtOrAfter(position)
  }

  private firstPointAtOrAfter(position: number): number {
    let lo = 0
    let hi = this.points.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.points[mid] as Point).position < position) lo = mid + 1
      else hi = mid
    }
    return lo % this.points.length
  }
}
