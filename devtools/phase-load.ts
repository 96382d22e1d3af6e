/**
 * A steady load for phased runs (faults/netns/many-hosts.ts, the rolling restart and upgrade tests): clients that write new keys to
 * `bucket` and read acknowledged ones back, through whatever `fetch` reaches (a load balancer), with
 * each phase's requests, failures and latency percentiles kept apart.
 */

export interface PhaseReport {
  phase: string
  requests: number
  failed: number
  availability: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** The first few failures, as seen by the client. */
  failures: string[]
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

export class PhaseLoad {
  readonly acked = new Map<string, string>()
  private phase: { name: string; requests: number; failures: string[]; latencies: number[] }
  readonly phases: PhaseReport[] = []
  private running = true
  private readonly clients: Promise<void>[]

  constructor(
    private readonly cluster: { fetch(path: string, init?: RequestInit): Promise<Response> },
    clients: number,
    firstPhase: string,
    private readonly bucket: string,
  ) {
    this.phase = { name: firstPhase, requests: 0, failures: [], latencies: [] }
    this.clients = Array.from({ length: clients }, (_, c) => this.client(c))
  }

  private async timed(what: string, call: () => Promise<{ ok: boolean; detail: string }>): Promise<void> {
    const phase = this.phase
    const started = performance.now()
    phase.requests++
    try {
      const r = await call()
      if (!r.ok) phase.failures.push(`${what}: ${r.detail}`)
    } catch (err) {
      phase.failures.push(`${what}: ${String(err)}`)
    }
    phase.latencies.push(performance.now() - started)
  }

  private async client(c: number): Promise<void> {
    for (let i = 0; this.running; i++) {
      const key = `c${c}-${i}`
      const body = `value of ${key}`
      await this.timed(`PUT ${key}`, async () => {
        const res = await this.cluster.fetch(`/buckets/${this.bucket}/files/${key}`, { method: 'PUT', body })
        const text = await res.text()
        if (res.status === 201) this.acked.set(key, body)
        return { ok: res.status === 201, detail: `${res.status} ${text.slice(0, 120)}` }
      })
      const old = `c${c}-${Math.floor(i / 2)}`
      const want = this.acked.get(old)
      if (want === undefined) continue
      await this.timed(`GET ${old}`, async () => {
        const res = await this.cluster.fetch(`/buckets/${this.bucket}/files/${old}`)
        const text = await res.text()
        return { ok: res.status === 200 && text === want, detail: `${res.status} ${text.slice(0, 120)}` }
      })
    }
  }

  /** Close the current phase's figures and start `name`'s. */
  next(name: string): void {
    const p = this.phase
    const sorted = [...p.latencies].sort((a, b) => a - b)
    const round = (ms: number) => Math.round(ms * 10) / 10
    this.phases.push({
      phase: p.name,
      requests: p.requests,
      failed: p.failures.length,
      availability: p.requests === 0 ? 1 : (p.requests - p.failures.length) / p.requests,
      p50Ms: round(percentile(sorted, 50)),
      p99Ms: round(percentile(sorted, 99)),
      maxMs: round(sorted[sorted.length - 1] ?? 0),
      failures: p.failures.slice(0, 5),
    })
    this.phase = { name, requests: 0, failures: [], latencies: [] }
  }

  async stop(): Promise<void> {
    this.running = false
    await Promise.all(this.clients)
    this.next('done')
  }
}

/** The report as a markdown table (one row per phase). */
export function phaseTable(phases: readonly PhaseReport[]): string {
  const rows = phases.map((p) => `| ${p.phase} | ${p.requests} | ${p.failed} | ${(p.availability * 100).toFixed(2)} % | ${p.p50Ms} | ${p.p99Ms} | ${p.maxMs} |`)
  return ['| phase | requests | failed | availability | p50 ms | p99 ms | max ms |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |', ...rows].join('\n')
}
