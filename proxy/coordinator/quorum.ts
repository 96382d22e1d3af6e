/** Waiting for a quorum: resolve as soon as `needed` calls succeeded or that became impossible; the rest keep running. */
import { performance } from 'node:perf_hooks'
import { currentTiming } from '../../shared/http/request-timing.js'

export interface Outcome<T> {
  node: string
  ok: boolean
  value?: T
  error?: unknown
}

export interface QuorumResult<T> {
  ok: { node: string; value: T }[]
  failed: { node: string; error: unknown }[]
  /** Settles when every call has finished (for read repair and logging of stragglers). */
  all: Promise<Outcome<T>[]>
}

/**
 * `counts` decides whether a success counts toward the quorum (all do by default). With
 * `giveUpEarly` false, a quorum that became impossible still waits for every answer (a read must
 * not settle for empty stand-in answers while a replica holding the data is still answering).
 */
export function gatherQuorum<T>(calls: readonly { node: string; promise: Promise<T> }[], needed: number, counts: (value: T) => boolean = () => true, giveUpEarly = true): Promise<QuorumResult<T>> {
  let counted = 0
  const timing = currentTiming()
  const startedAt = timing ? performance.now() : 0
  const ok: { node: string; value: T }[] = []
  const failed: { node: string; error: unknown }[] = []
  const all = Promise.all(
    calls.map(({ node, promise }) =>
      promise.then(
        (value): Outcome<T> => ({ node, ok: true, value }),
        (error: unknown): Outcome<T> => ({ node, ok: false, error }),
      ),
    ),
  )
  return new Promise((resolve) => {
    let settled = false
    const check = () => {
      if (settled) return
      const pending = calls.length - ok.length - failed.length
      if (counted >= needed || (giveUpEarly && counted + pending < needed) || pending === 0) {
        settled = true
        timing?.quorumWait(startedAt)
        resolve({ ok: [...ok], failed: [...failed], all })
      }
    }
    if (needed <= 0 || calls.length === 0) check()
    for (const { node, promise } of calls) {
      promise.then(
        (value) => {
          ok.push({ node, value })
          if (counts(value)) counted++
          check()
        },
        (error: unknown) => {
          failed.push({ node, error })
          check()
        },
      )
    }
  })
}

/**
 * Ask only as many as needed: start `needed` calls, and one more from the rest whenever a call
 * fails or the quorum is still short after `speculateAfterMs` (a slow, not dead, replica: Cassandra's
 * speculative retry). Resolves once `needed` succeeded or the candidates ran out; `unasked` are the
 * indexes of calls never started, `all` settles when every started call has.
 */
export function gatherFirst<T>(calls: readonly { node: string; start: () => Promise<T> }[], needed: number, speculateAfterMs: number): Promise<QuorumResult<T> & { unasked: number[] }> {
  const timing = currentTiming()
  const startedAt = timing ? performance.now() : 0
  return new Promise((resolve) => {
    const ok: { node: string; value: T }[] = []
    const failed: { node: string; error: unknown }[] = []
    const outcomes: Promise<Outcome<T>>[] = []
    let next = 0
    let running = 0
    let settled = false
    let timer: NodeJS.Timeout | undefined
    const finish = () => {
      settled = true
      timing?.quorumWait(startedAt)
      clearTimeout(timer)
      const unasked = Array.from({ length: calls.length - next }, (_, i) => next + i)
      resolve({ ok: [...ok], failed: [...failed], all: Promise.all(outcomes), unasked })
    }
    const check = () => {
      if (settled) return
      if (ok.length >= needed) return finish()
      while (ok.length + running < needed && next < calls.length) launch()
      if (ok.length + running < needed) finish()
    }
    const launch = () => {
      const { node, start } = calls[next++] as (typeof calls)[number]
      running++
      let call: Promise<T>
      try {
        call = start()
      } catch (err) {
        call = Promise.reject(err)
      }
      outcomes.push(
        call.then(
          (value): Outcome<T> => {
            running--
            ok.push({ node, value })
            check()
            return { node, ok: true, value }
          },
          (error: unknown): Outcome<T> => {
            running--
            failed.push({ node, error })
            check()
            return { node, ok: false, error }
          },
        ),
      )
    }
    const speculate = () => {
      timer = setTimeout(() => {
        if (settled || next >= calls.length) return
        launch()
        speculate()
      }, speculateAfterMs)
      timer.unref()
    }
    check()
    if (!settled && speculateAfterMs > 0) speculate()
  })
}
