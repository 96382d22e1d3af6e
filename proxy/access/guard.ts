/**
 * What each route needs, declared where the route is mounted: `router.get(path, guard(need), handler)`.
 * A route without a guard is refused (deny by default: the proxy's app checks every route of its
 * router has one, and test/unit/proxy/route-guards.test.ts walks them). A refused request gets 401
 * when it carries no key, 403 AccessDenied when its key lacks the right; nothing is stored or deleted.
 */
import type { Context, Middleware } from 'koa'
import { AccessDeniedError, NoSuchBucketError, UnauthorizedError } from '../../shared/errors.js'
import { bearerMatches } from '../../shared/http/metrics.js'
import type { Permission } from '../../shared/wire/access-api.js'
import { KV_GRANTS } from '../../shared/wire/access-records.js'
import { bucketParam } from '../api/request-params.js'
import { HOW_TO_AUTHENTICATE } from './authenticate.js'
import type { AccessCatalog } from './catalog.js'
import type { Policy, ResolvedKey } from './policy.js'
import { principalOf } from './principal.js'

export type Need =
  /** Anyone: health, metrics, the page's static files. */
  | { open: true }
  /** Anyone holding this bearer token (`Authorization: Bearer <token>`): metrics with --metrics-token. */
  | { bearer: string }
  /** Any valid key (what the route answers depends on the key, e.g. the buckets it may read). */
  | { anyKey: true }
  /** Admin keys, or a member signature (key management, cluster internals). */
  | { admin: true }
  /** Admin keys and keys made with --create-buckets. */
  | { createBuckets: true }
  /** A permission on the route's :bucket; `publicRead` lets anyone read objects of a public bucket; `member` lets a member signature manage its grants. */
  | { bucket: Permission; publicRead?: true; member?: true }
  /** A permission on the key-value API. */
  | { kv: 'read' | 'write' }

const GUARD = Symbol('route guard')

export type GuardMiddleware = Middleware & { [GUARD]: Need }

function isGuard(m: unknown): m is GuardMiddleware {
  return typeof m === 'function' && GUARD in m
}

/** The Need a route's middleware enforces, when it is a guard. */
export function needOf(m: unknown): Need | undefined {
  return isGuard(m) ? m[GUARD] : undefined
}

function requireKey(ctx: Context): ResolvedKey {
  const p = principalOf(ctx)
  if (p.kind === 'key') return p.key
  if (p.kind === 'member') throw new AccessDeniedError('a member signature may only manage keys and grants (/admin/...): use an access key')
  throw new UnauthorizedError(HOW_TO_AUTHENTICATE)
}

async function check(ctx: Context, need: Need, policy: () => Policy, refresh: () => Promise<void>): Promise<void> {
  if ('open' in need) return
  if ('bearer' in need) {
    if (bearerMatches(ctx.get('authorization'), need.bearer)) return
    ctx.set('WWW-Authenticate', 'Bearer realm="metrics"')
    throw new UnauthorizedError('this route needs Authorization: Bearer <token>')
  }
  const p = principalOf(ctx)
  if ('admin' in need) {
    if (p.kind === 'member') return
    if (!requireKey(ctx).admin) throw new AccessDeniedError('this needs an admin key')
    return
  }
  if ('bucket' in need) {
    // Validated first: a bad name is a 400 before any permission is looked up.
    const bucket = bucketParam(ctx)
    if (p.kind === 'anonymous' && need.publicRead && policy().isPublic(bucket)) return
    if (p.kind === 'member' && need.member) {
      if (!policy().bucket(bucket)) throw new NoSuchBucketError(`bucket ${bucket} does not exist`)
      return
    }
    const key = requireKey(ctx)
    const pol = policy()
    if (!pol.bucket(bucket)) {
      // Made a moment ago through another proxy? Look once more before answering.
      await refresh()
      if (policy().bucket(bucket)) return check(ctx, need, policy, refresh)
      if (key.admin || key.createBuckets || need.bucket === 'read') throw new NoSuchBucketError(`bucket ${bucket} does not exist`)
      throw new AccessDeniedError(`access key ${key.id} may not ${need.bucket} bucket ${bucket}`)
    }
    if (!pol.allows(key, bucket, need.bucket)) throw new AccessDeniedError(`access key ${key.id} may not ${need.bucket === 'owner' ? 'manage' : need.bucket} bucket ${bucket}`)
    return
  }
  const key = requireKey(ctx)
  if ('anyKey' in need) return
  if ('createBuckets' in need) {
    if (!key.admin && !key.createBuckets) throw new AccessDeniedError(`access key ${key.id} may not create buckets (an admin can make keys with --create-buckets)`)
    return
  }
  if (!policy().allows(key, KV_GRANTS, need.kv)) throw new AccessDeniedError(`access key ${key.id} may not ${need.kv} the key-value API (./dynamoctl kv allow)`)
}

/** Route middleware: the request goes on only if its caller has `need`. */
export function makeGuard(catalog: AccessCatalog): (need: Need) => GuardMiddleware {
  return (need) => {
    const m: Middleware = async (ctx, next) => {
      await check(
        ctx,
        need,
        () => catalog.policy(),
        () => catalog.refresh(),
      )
      await next()
    }
    return Object.assign(m, { [GUARD]: need })
  }
}
