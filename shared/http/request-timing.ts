/**
 * Per-request timing on the proxy: each replica call (node, status, ms) and the time spent waiting
 * for quorums, gathered through an AsyncLocalStorage so that the node client and the quorum
 * helpers record into the request they serve without being handed it. Answered as `Server-Timing`
 * and, with `?trace=1` on a write, as JSON (shared/wire/trace.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { performance } from 'node:perf_hooks'
import type { Trace } from '../wire/trace.js'

/** A replica call's status: the HTTP status (200 for a successful RPC), or 0 when the node did not answer. */
export const UNREACHABLE_STATUS = 0

/** What one request spent, collected as it runs. */
export class RequestTiming {
  readonly startedAt = performance.now()
  private readonly calls: { node: string; status: number; ms: number }[] = []
  private quorumMs = 0
  private quorums = 0

  replicaCall(node: string, status: number, startedAt: number): void {
    this.calls.push({ node, status, ms: performance.now() - startedAt })
  }

  quorumWait(startedAt: number): void {
    this.quorumMs += performance.now() - startedAt
    this.quorums++
  }

  /** As JSON, milliseconds rounded to 0.01. */
  toTrace(): Trace {
    return {
      total_ms: round(performance.now() - this.startedAt),
      quorum_ms: round(this.quorumMs),
      quorums: this.quorums,
      replicas: this.calls.map((c) => ({ node: c.node, status: c.status, ms: round(c.ms) })),
    }
  }

  /** The `Server-Timing` header: `total`, `quorum` (summed over the request's quorums), one `replica` per call with node and status. */
  toHeader(): string {
    const t = this.toTrace()
    const parts = [`total;dur=${t.total_ms}`, `quorum;desc="${t.quorums}";dur=${t.quorum_ms}`]
    for (const c of t.replicas) parts.push(`replica;desc="${c.node} ${c.status}";dur=${c.ms}`)
    return parts.join(', ')
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}

const store = new AsyncLocalStorage<RequestTiming>()

/** Run `fn` with `timing` collecting what it and everything it starts spend. */
export function withTiming<T>(timing: RequestTiming, fn: () => T): T {
  return store.run(timing, fn)
}

/** The timing of the request being served, if any (none on nodes, nor in background work started outside a request). */
export function currentTiming(): RequestTiming | undefined {
  return store.getStore()
}
