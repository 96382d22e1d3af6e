/**
 * The request's body as routes read it: when the request was signed over its body's SHA-256
 * (x-amz-content-sha256), a stream that fails at its end if the bytes hash otherwise, so the write it
 * feeds is discarded (400 XAmzContentSHA256Mismatch, nothing stored).
 */
import { Readable } from 'node:stream'
import type { Context } from 'koa'
import { InvalidRequestError } from '../../shared/errors.js'
import { sha256Check } from './payload-check.js'

export function requestBody(ctx: Context): Readable {
  // Read whole already to check its signature (authenticate.ts): served from memory, checked.
  if (Buffer.isBuffer(ctx.state.bufferedBody)) return Readable.from([ctx.state.bufferedBody])
  const expected = ctx.state.payloadSha256 as string | undefined
  if (expected === undefined) return ctx.req
  const checked = sha256Check(expected)
  ctx.req.once('error', (err) => checked.destroy(err))
  ctx.req.once('aborted', () => checked.destroy(new InvalidRequestError('upload aborted by the client')))
  return ctx.req.pipe(checked)
}
