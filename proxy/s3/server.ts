/**
 * The S3 endpoint: a Koa app of its own, served on --s3-port beside the native API, over the same
 * coordinator, buckets and access catalog. Middleware order: request id, access log, S3 XML errors,
 * metrics, the slow-body guard, SigV4, then the operation (router.ts). `/health` here is a bucket name.
 */
import type { Server } from 'node:http'
import type { TlsOptions } from 'node:tls'
import Koa from 'koa'
import type { Logger } from '../../shared/log.js'
import { serve } from '../../shared/http/serve.js'
import type { SlowBodyGuard } from '../../shared/http/slow-body-guard.js'
import { accessLog } from '../access/access-log.js'
import { keyLookup } from '../access/authenticate.js'
import type { SecretBox } from '../access/secret-box.js'
import type { ProxyMetrics } from '../metrics/proxy-metrics.js'
import { requestIdMiddleware } from '../api/request-id.js'
import { s3Authenticate } from './auth.js'
import { type S3Components, type S3Config, s3Handler } from './context.js'
import { s3ErrorOf } from './errors.js'
import { UploadCollector } from './multipart/upload-collector.js'
import { UploadStore } from './multipart/upload-store.js'
import { dispatch } from './router.js'
import { errorDocument } from './xml.js'

export interface S3AppComponents extends S3Components {
  box: SecretBox
  bodyGuard: SlowBodyGuard
  /** One line per request (shared/log.ts createAccessLogger). */
  accessLog: Logger
  /** None with --metrics off: S3 requests are not counted or timed. */
  metrics?: ProxyMetrics | undefined
}

/** Errors as S3 answers them: an XML Error document (none for HEAD and 304), x-amz-request-id. */
function s3Errors(c: S3AppComponents): Koa.Middleware {
  return async (ctx, next) => {
    ctx.set('x-amz-request-id', String(ctx.state.requestId ?? ''))
    try {
      await next()
    } catch (err) {
      const { code, status, message, unexpected } = s3ErrorOf(err)
      if (unexpected) c.log.error({ err, method: ctx.method, path: ctx.path }, 'unexpected error')
      if (ctx.req.destroyed && ctx.res.headersSent) return
      // A body the request still sends is not read: close the connection after the answer rather than drain it.
      if (!ctx.req.readableEnded && Number(ctx.get('content-length') || 0) > 0) ctx.set('Connection', 'close')
      if (status === 304) {
        ctx.status = 304
        return
      }
      ctx.status = status
      if (ctx.method === 'HEAD') return
      ctx.type = 'application/xml'
      ctx.body = errorDocument(code, message, ctx.path, String(ctx.state.requestId ?? ''))
    }
  }
}

export function createS3App(c: S3AppComponents, cfg: S3Config, uploads = new UploadStore(c, cfg)): Koa {
  const app = new Koa()
  const h = s3Handler(c, cfg)
  app.use(requestIdMiddleware())
  app.use(accessLog(c.accessLog.child({ api: 's3' }), s3ObjectOf))
  app.use(s3Errors(c))
  if (c.metrics) app.use(c.metrics.s3.middleware(cfg.s3Domain))
  app.use(c.bodyGuard.middleware())
  app.use(s3Authenticate(keyLookup(c), cfg.region, cfg.otherEndpointPort))
  app.use((ctx) => dispatch(h, uploads, ctx))
  app.on('error', (err) => c.log.debug({ err: String(err) }, 'connection error'))
  return app
}

/** Serves the S3 endpoint on host:port and starts its upload collector; `stop` closes both. */
/** Served over HTTPS with `publicTls` (the proxy's --public-tls-cert/--public-tls-key), like the native API. */
export async function startS3Endpoint(c: S3AppComponents, cfg: S3Config & { host: string; port: number; publicTls?: TlsOptions | undefined }): Promise<{ server: Server; stop: () => void }> {
  const uploads = new UploadStore(c, cfg)
  const server = await serve(createS3App(c, cfg, uploads), cfg.host, cfg.port, cfg.publicTls, c.log.child({ component: 'tls' }))
  // Sweeps a few times per TTL, at most every 10 minutes: an abandoned upload outlives its TTL by a fraction of it.
  const collector = new UploadCollector(uploads, c.log.child({ component: 's3-uploads' }), { ttlMs: cfg.s3UploadTtlMs, intervalMs: Math.min(cfg.s3UploadTtlMs / 4, 10 * 60_000) })
  collector.start()
  return {
    server,
    stop: () => {
      collector.stop()
      server.close()
      server.closeIdleConnections()
    },
  }
}

/** Bucket and key of a path-style S3 path, for the access log (never throws: a bad name is logged as sent). */
function s3ObjectOf(path: string): { bucket?: string | undefined; key?: string | undefined } {
  const rest = path.slice(1)
  const slash = rest.indexOf('/')
  const bucket = slash < 0 ? rest : rest.slice(0, slash)
  let key = slash < 0 ? undefined : rest.slice(slash + 1)
  try {
    key = key === undefined || key === '' ? undefined : decodeURIComponent(key)
  } catch {}
  return { bucket: bucket === '' ? undefined : bucket, key }
}
