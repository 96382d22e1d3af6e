/**
 * The proxy's Prometheus metrics: requests by route template (never a bucket or key), latency per
 * route, quorum failures, the S3 endpoint's requests by operation (s3-metrics.ts); the rest is read
 * at scrape time from counters the components keep anyway.
 */
import type { Context, Middleware } from 'koa'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { QuorumNotReachedError, StoreError } from '../../shared/errors.js'
import { collectProcessMetrics, LATENCY_BUCKETS_S } from '../../shared/http/metrics.js'
import type { AccessCatalog } from '../access/catalog.js'
import type { ReadCoordinator } from '../coordinator/read-coordinator.js'
import type { ReadRepairer } from '../coordinator/read-repair.js'
import type { MembershipView } from '../membership/membership-view.js'
import { S3Metrics } from './s3-metrics.js'

export interface ProxyMetricsComponents {
  view: MembershipView
  catalog: AccessCatalog
  reader: ReadCoordinator
  repairer: ReadRepairer
}

const STATES = ['up', 'suspect', 'down'] as const
/** What a request that matched no route is counted under. */
const UNMATCHED = 'unmatched'

export class ProxyMetrics {
  readonly registry: Registry = new Registry()
  private readonly requests = new Counter({
    name: 'dynamo_proxy_requests_total',
    help: 'Requests answered, by route template, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  })
  private readonly duration = new Histogram({
    name: 'dynamo_proxy_request_duration_seconds',
    help: 'Time from the request reaching the proxy to its handler returning (a streamed body may go on after), by route template and method',
    labelNames: ['route', 'method'] as const,
    buckets: [...LATENCY_BUCKETS_S],
    registers: [this.registry],
  })
  private readonly quorumFailures = new Counter({
    name: 'dynamo_proxy_quorum_failures_total',
    help: 'Requests answered 503 because too few replicas answered (QuorumNotReached), by API (native or s3) and method',
    labelNames: ['api', 'method'] as const,
    registers: [this.registry],
  })
  /** Label children by `method route status`: the label hash is not computed per request. */
  private readonly counted = new Map<string, { inc(): void }>()
  private readonly timed = new Map<string, { observe(v: number): void }>()
  /** The S3 endpoint's requests, in the same registry. */
  readonly s3 = new S3Metrics(this.registry, this.quorumFailures)

  /** `processMetrics` false (--metrics off): no event-loop or GC observers run. */
  constructor(c: ProxyMetricsComponents, init: { processMetrics?: boolean } = {}) {
    if (init.processMetrics !== false) collectProcessMetrics(this.registry)
    const r = [this.registry]
    new Counter({
      name: 'dynamo_proxy_read_repairs_total',
      help: 'Versions pushed to stale replicas by read repair',
      registers: r,
      collect() {
        this.reset()
        this.inc(c.repairer.repaired)
      },
    })
    new Counter({
      name: 'dynamo_proxy_read_repair_failures_total',
      help: 'Read-repair pushes that failed',
      registers: r,
      collect() {
        this.reset()
        this.inc(c.repairer.failed)
      },
    })
    new Counter({
      name: 'dynamo_proxy_reads_total',
      help: 'Quorum reads answered',
      registers: r,
      collect() {
        this.reset()
        this.inc(c.reader.stats.reads)
      },
    })
    new Counter({
      name: 'dynamo_proxy_sibling_reads_total',
      help: 'Quorum reads whose answer held more than one live version (siblings)',
      registers: r,
      collect() {
        this.reset()
        this.inc(c.reader.stats.siblingReads)
      },
    })
    new Gauge({
      name: 'dynamo_proxy_node_state',
      help: 'Each storage node in the state this proxy acts on (1 in its state, 0 in the others)',
      labelNames: ['node', 'state'] as const,
      registers: r,
      collect() {
        this.reset()
        for (const m of c.view.view()) for (const s of STATES) this.set({ node: m.id, state: s }, m.status === s ? 1 : 0)
      },
    })
    new Gauge({
      name: 'dynamo_proxy_membership_poll_age_seconds',
      help: 'Seconds since the membership view was last read from a node',
      registers: r,
      collect() {
        this.set(c.view.lastPollAgeMs / 1000)
      },
    })
    new Gauge({
      name: 'dynamo_proxy_access_catalog_age_seconds',
      help: 'Seconds since the access catalog (keys, grants, buckets) was last read completely',
      registers: r,
      collect() {
        this.set(c.catalog.ageMs / 1000)
      },
    })
    new Counter({
      name: 'dynamo_proxy_access_catalog_refresh_failures_total',
      help: 'Access-catalog refreshes that failed',
      registers: r,
      collect() {
        this.reset()
        this.inc(c.catalog.stats.failures)
      },
    })
  }

  /** Counts and times each request; mounted inside the error middleware, so a thrown error is seen with its status. */
  middleware(): Middleware {
    return async (ctx, next) => {
      const started = process.hrtime.bigint()
      let status: number | undefined
      try {
        await next()
      } catch (err) {
        status = err instanceof StoreError ? err.status : 500
        if (err instanceof QuorumNotReachedError) this.quorumFailures.inc({ api: 'native', method: ctx.method })
        throw err
      } finally {
        this.record(ctx, status ?? ctx.status, Number(process.hrtime.bigint() - started) / 1e9)
      }
    }
  }

  private record(ctx: Context, status: number, seconds: number): void {
    const route = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute
    const template = typeof route === 'string' ? route : UNMATCHED
    const method = ctx.method
    const timedKey = `${method} ${template}`
    let timer = this.timed.get(timedKey)
    if (!timer) {
      timer = this.duration.labels({ route: template, method })
      this.timed.set(timedKey, timer)
    }
    timer.observe(seconds)
    const countedKey = `${timedKey} ${status}`
    let counter = this.counted.get(countedKey)
    if (!counter) {
      counter = this.requests.labels({ route: template, method, status: String(status) })
      this.counted.set(countedKey, counter)
    }
    counter.inc()
  }

  /** Requests counted so far, one entry per route template, method and status (for GET /cluster/status). */
  async requestCounts(): Promise<{ route: string; method: string; status: number; count: number }[]> {
    const { values } = await this.requests.get()
    return values.map((v) => ({ route: String(v.labels.route), method: String(v.labels.method), status: Number(v.labels.status), count: v.value }))
  }
}
