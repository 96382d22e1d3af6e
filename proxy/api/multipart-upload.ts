/**
 * Multipart form uploads (the seeds' `curl -F file=@cat.jpg`), streamed with busboy: each file
 * part is written as it arrives, keyed by its file name; a `context` field applies to the files
 * after it. Nothing is buffered whole.
 */
import busboy from 'busboy'
import type { Context } from 'koa'
import { InvalidRequestError } from '../../shared/errors.js'
import { assertKey } from '../../shared/names.js'
import type { ReadContext } from '../../shared/vclock/versions.js'
import type { WriteCoordinator, WriteOutcome } from '../coordinator/write-coordinator.js'
import { requestBody } from '../access/request-body.js'
import { type ApiConfig, contextFrom, requestId } from './request-params.js'

export async function uploadMultipart(ctx: Context, opts: { bucket: string; w: number; writer: WriteCoordinator; cfg: ApiConfig }): Promise<WriteOutcome[]> {
  if (!ctx.is('multipart/form-data')) throw new InvalidRequestError('expected a multipart/form-data body (curl -F file=@path)')
  let parser: busboy.Busboy
  try {
    parser = busboy({ headers: ctx.req.headers, preservePath: true, defParamCharset: 'utf8', limits: { fields: 100, fieldSize: 64 * 1024, files: 1000, parts: 1100 } })
  } catch (err) {
    throw new InvalidRequestError(`malformed multipart request: ${(err as Error).message}`)
  }
  const results: WriteOutcome[] = []
  let context: ReadContext | undefined
  let chain: Promise<void> = Promise.resolve()
  let failure: unknown
  const fail = (err: unknown) => {
    failure ??= err
  }

  parser.on('field', (name, value) => {
    if (name === 'context') {
      try {
        context = contextFrom(value, opts.cfg)
      } catch (err) {
        fail(err)
      }
    }
  })
  let active: { destroy(err?: Error): unknown } | undefined
  parser.on('file', (_field, stream, info) => {
    active = stream
    // The file name is the key, whole: `a/b.txt` stays `a/b.txt` (SPEC: keys may hold slashes), and
    // `../x` stays a key too (keys are never paths). Raw UTF-8 names, as curl and browsers send them, are read as UTF-8.
    const key = info.filename
    const ctxAtPart = context
    chain = chain.then(async () => {
      if (failure) return void stream.resume()
      try {
        if (!key) throw new InvalidRequestError('a file part has no file name (the key)')
        assertKey(key)
        results.push(await opts.writer.write({ bucket: opts.bucket, key, body: stream, context: ctxAtPart, contentType: info.mimeType, w: opts.w, requestId: requestId(ctx) }))
      } catch (err) {
        fail(err)
        stream.resume()
      }
    })
  })
  await new Promise<void>((resolve) => {
    parser.once('close', resolve)
    const abort = (err: InvalidRequestError) => {
      fail(err)
      // Unblock whatever is reading the current part, and stop parsing.
      active?.destroy(err)
      parser.destroy()
      resolve()
    }
    parser.once('error', (err) => abort(new InvalidRequestError(`malformed multipart request: ${(err as Error).message}`)))
    ctx.req.once('aborted', () => abort(new InvalidRequestError('upload aborted by the client')))
    requestBody(ctx).pipe(parser)
  })
  await chain
  if (failure) throw failure
  if (results.length === 0) throw new InvalidRequestError('the form has no file part')
  return results
}
