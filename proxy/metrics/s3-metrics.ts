/**
 * The S3 endpoint's request metrics: requests by S3 operation (a closed set: s3/operation.ts),
 * method and status, latency per operation. Never a bucket or key: those are in the access log.
 */
import type { Context, Middleware } from 'koa'
import { Counter, Histogram, type Registry } from 'prom-client'
import { QuorumNotReachedError } from '../../shared/errors.js'
import { LATENCY_BUCKETS_S } from '../../shared/http/metrics.js'
import { s3ErrorOf } from '../s3/errors.js'
import { s3OperationOf } from '../s3/operation.js'

export class S3Metrics {
  private readonly requests: Counter<'operation' | 'method' | 'status'>
  private readonly duration: Histogram<'operation'>
  /** Label children by `operation method status`: the label hash is not computed per request. */
  private readonly counted = new Map<string, { inc(): void }>()
  private readonly timed = new Map<string, { observe(v: number): void }>()

  constructor(
    registry: Registry,
    private readonly quorumFailures: Counter<'api' | 'method'>,
  ) {
    this.requests = new Counter({
      name: 'dynamo_proxy_s3_requests_total',
      help: 'Requests answered by the S3 endpoint, by S3 operation, method and status code',
      labelNames: ['operation', 'method', 'status'] as const,
      registers: [registry],
    })
    this.duration = new Histogram({
      name: 'dynamo_proxy_s3_request_duration_seconds',
      help: 'Time from an S3 request reaching the proxy to its handler returning (a streamed body may go on after), by S3 operation',
      labelNames: ['operation'] as const,
      buckets: [...LATENCY_BUCKETS_S],
      registers: [registry],
    })
  }

  /** Counts and times each S3 request; mounted inside the S3 error middleware, so a thrown error is seen with the status S3 answers it with. */
  middleware(s3Domain: string | undefined): Middleware {
    return async (ctx, next) => {
      const started = process.hrtime.bigint()
      let status: number | undefined
      try {
        await next()
      } catch (err) {
        status = s3ErrorOf(err).status
        if (err instanceof QuorumNotReachedError) this.quorumFailures.inc({ api: 's3', method: ctx.method })
        throw err
      } finally {
        this.record(ctx, s3Domain, status ?? ctx.status, Number(process.hrtime.bigint() - started) / 1e9)
      }
    }
  }

  private record(ctx: Context, s3Domain: string | undefined, status: number, seconds: number): void {
    const operation = s3OperationOf(ctx, s3Domain)
    let timer = this.timed.get(operation)
    if (!timer) {
      timer = this.duration.labels({ operation })
      this.timed.set(operation, timer)
    }
    timer.observe(seconds)
    const countedKey = `${operation} ${ctx.method} ${status}`
    let counter = this.counted.get(countedKey)
    if (!counter) {
      counter = this.requests.labels({ operation, method: ctx.method, status: String(status) })
      this.counted.set(countedKey, counter)
    }
    counter.inc()
  }
}
