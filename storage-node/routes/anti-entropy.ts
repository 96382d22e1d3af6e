/** Anti-entropy routes: a peer asks for segment digests, then for the keys of segments that differ. */
import type Router from '@koa/router'
import { InvalidRequestError } from '../../shared/errors.js'
import { internalRoutes, type SegmentDigestsAnswer, SegmentDigestsRequestSchema, type SegmentKeysAnswer, SegmentKeysRequestSchema } from '../../shared/wire/internal-api.js'
import type { AntiEntropy } from '../anti-entropy/anti-entropy.js'
import { signedJson } from './auth.js'

export function mountAntiEntropyRoutes(router: Router, nodeId: string, ae: AntiEntropy): void {
  const json = signedJson('64kb')
  router.post(internalRoutes.segmentDigests.pattern, ...json, (ctx) => {
    const req = SegmentDigestsRequestSchema.safeParse(ctx.request.body)
    if (!req.success) throw new InvalidRequestError(`bad digest request: ${req.error.message}`)
    ctx.body = { node: nodeId, digests: ae.digestsFor(req.data.peer, req.data.segments) } satisfies SegmentDigestsAnswer
  })
  router.post(internalRoutes.segmentKeys.pattern, ...json, (ctx) => {
    const req = SegmentKeysRequestSchema.safeParse(ctx.request.body)
    if (!req.success) throw new InvalidRequestError(`bad segment request: ${req.error.message}`)
    ctx.body = { node: nodeId, keys: ae.keysFor(req.data.peer, req.data.segment) } satisfies SegmentKeysAnswer
  })
}
