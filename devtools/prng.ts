/**
 * A small seeded PRNG (mulberry32) for property-style tests and the fault workload: the same seed
 * gives the same cases on every run, so a failure names its seed and can be replayed.
 */

/** mulberry32: 32-bit state, uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class Prng {
  private readonly next: () => number

  constructor(readonly seed: number) {
    this.next = mulberry32(seed)
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.next()
  }

  /** Uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive)
  }

  /** Uniform integer in [min, max] (both inclusive). */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1)
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty array')
    return items[this.int(items.length)] as T
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const tmp = out[i] as T
      out[i] = out[j] as T
      out[j] = tmp
    }
    return out
  }
}

/** Run `body` for `cases` seeds derived from `baseSeed`; the seed is passed so failures can name it. */
export function forEachSeed(cases: number, baseSeed: number, body: (rng: Prng, seed: number) => void): void {
  for (let i = 0; i < cases; i++) {
    const seed = (baseSeed + Math.imul(i, 0x9e3779b1)) >>> 0
    body(new Prng(seed), seed)
  }
}
