/** What every S3 handler is given: the store's components, the endpoint's config, and a permission check with the native API's rules. */
import type { Context } from 'koa'
import type { Logger } from '../../shared/log.js'
import type { AccessCatalog } from '../access/catalog.js'
import { makeGuard, type Need } from '../access/guard.js'
import type { BucketRegistry } from '../buckets/bucket-registry.js'
import type { Lister } from '../coordinator/lister.js'
import type { ReadCoordinator } from '../coordinator/read-coordinator.js'
import type { WriteCoordinator } from '../coordinator/write-coordinator.js'

export interface S3Components {
  buckets: BucketRegistry
  reader: ReadCoordinator
  writer: WriteCoordinator
  lister: Lister
  catalog: AccessCatalog
  log: Logger
}

export interface S3Config {
  region: string
  s3Domain: string | undefined
  r: number
  w: number
  maxObjectBytes: number
  /** Multipart uploads not completed within this are collected. */
  s3UploadTtlMs: number
  /** The native API's port: requests signed for it are refused here (proxy/access/endpoint-host.ts). */
  otherEndpointPort?: number | undefined
}

/** A handler's view of the request: the components, config, and the permission check. */
export interface S3Handler {
  c: S3Components
  cfg: S3Config
  /** Refuses (403 AccessDenied, 404 NoSuchBucket) unless the caller has `need` (on `bucket`), by the native API's guard rules. */
  allow(ctx: Context, need: Need, bucket?: string): Promise<void>
}

export function s3Handler(c: S3Components, cfg: S3Config): S3Handler {
  const guard = makeGuard(c.catalog)
  return {
    c,
    cfg,
    allow: async (ctx, need, bucket) => {
      const saved = ctx.params
      ctx.params = bucket === undefined ? {} : { bucket }
      try {
        await guard(need)(ctx, async () => {})
      } finally {
        ctx.params = saved
      }
    },
  }
}
