/** Ownership transfer route: a sending node asks which versions of a batch of keys this node holds (its own data). */
import type Router from '@koa/router'
import { InvalidRequestError } from '../../shared/errors.js'
import { versionId } from '../../shared/vclock/versions.js'
import { internalRoutes } from '../../shared/wire/internal-api.js'
import { type TransferHaveAnswer, TransferHaveRequestSchema } from '../../shared/wire/transfer.js'
import type { VersionReader } from '../store/object-store.js'
import { signedJson } from './auth.js'

export function mountTransferRoutes(router: Router, nodeId: string, store: Pick<VersionReader, 'versions'>): void {
  router.post(internalRoutes.transferHave.pattern, ...signedJson('4mb'), (ctx) => {
    const req = TransferHaveRequestSchema.safeParse(ctx.request.body)
    if (!req.success) throw new InvalidRequestError(`bad transfer request: ${req.error.message}`)
    ctx.body = { node: nodeId, ids: req.data.keys.map(({ bucket, key }) => store.versions(bucket, key).map((v) => versionId(v.dot))) } satisfies TransferHaveAnswer
  })
}
