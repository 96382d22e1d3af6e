/** `?explain=1` on a file GET or HEAD: who may ask (admin keys and the bucket's owners) and the answer (shared/wire/explain.ts). */
import type { Context } from 'koa'
import { AccessDeniedError, UnauthorizedError } from '../../shared/errors.js'
import { HOW_TO_AUTHENTICATE } from '../access/authenticate.js'
import type { AccessCatalog } from '../access/catalog.js'
import { principalOf } from '../access/principal.js'
import type { Explainer } from '../coordinator/explainer.js'
import { requestId } from './request-params.js'

export interface ExplainComponents {
  explainer: Explainer
  catalog: AccessCatalog
}

/** True when the request asks for an explanation instead of the file. */
export function explainRequested(ctx: Context): boolean {
  return ctx.query.explain === '1'
}

/**
 * Answer what each replica holds. It shows every version's size, tag and writer, siblings a reader
 * may not be shown, and which nodes are down: more than reading the file tells, so it needs more
 * than the right to read it.
 */
export async function answerExplain(ctx: Context, c: ExplainComponents, bucket: string, key: string): Promise<void> {
  const p = principalOf(ctx)
  if (p.kind === 'anonymous') throw new UnauthorizedError(HOW_TO_AUTHENTICATE)
  if (p.kind !== 'key' || !c.catalog.policy().allows(p.key, bucket, 'owner')) {
    throw new AccessDeniedError(`explain needs an admin key or one that owns bucket ${bucket}`)
  }
  ctx.set('Cache-Control', 'no-store')
  ctx.body = await c.explainer.explain(bucket, key, requestId(ctx))
}
