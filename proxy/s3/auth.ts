/**
 * Who sends an S3 request, and the object bytes it carries. SigV4 in the header or a presigned URL;
 * the payload as the signature says: its SHA-256 (checked as it streams), UNSIGNED-PAYLOAD, or
 * aws-chunked (each chunk's signature checked, trailers read); then a flexible checksum when one is
 * announced, and Content-MD5. No credentials: anonymous, which the guard refuses (403 AccessDenied)
 * except for reads of a public bucket. Basic and member signatures are the native API's only.
 */
import type { Readable, Transform } from 'node:stream'
import type { Context, Middleware } from 'koa'
import { AuthorizationHeaderMalformedError } from '../../shared/errors.js'
import { credentialScope, signingKey } from '../../shared/sigv4/canonical.js'
import type { ObjectMetadata } from '../../shared/wire/object-metadata.js'
import type { KeyLookup } from '../access/authenticate.js'
import { requestBody } from '../access/request-body.js'
import { refuseOtherEndpoint } from '../access/endpoint-host.js'
import { parseSigV4, verifySigV4 } from '../access/sigv4-verifier.js'
import { AwsChunkedDecoder } from './aws-chunked.js'
import { checksumCheck, expectedChecksum, md5Tap } from './checksums.js'
import { invalidArgument, S3Error } from './errors.js'

/** The object bytes of a request, decoded and checked, and how many there are when known. */
export interface S3Body {
  stream: Readable
  /** Decoded length: Content-Length, or x-amz-decoded-content-length of an aws-chunked body. */
  size: number | undefined
  /** Set once the body has ended and its announced checksum held: `x-amz-checksum-<alg>` and its value. */
  checksum: { header: string; value: string } | undefined
  /** The MD5 of the bytes (hex), once the body has ended: the object's ETag. */
  md5Hex: () => string | undefined
}

export function s3Authenticate(keyFor: KeyLookup, region: string, otherEndpointPort?: number): Middleware {
  return async (ctx, next) => {
    const sig = parseSigV4({ method: ctx.method, url: ctx.url, headers: ctx.headers, headersDistinct: ctx.req.headersDistinct }, { streaming: true })
    if (!sig) {
      if (ctx.get('authorization') !== '') throw new AuthorizationHeaderMalformedError('this endpoint takes AWS Signature Version 4 (AWS4-HMAC-SHA256) only')
      ctx.state.principal = { kind: 'anonymous' }
      return next()
    }
    const { key, secret } = await keyFor(sig.accessKeyId)
    refuseOtherEndpoint(ctx.get('host'), otherEndpointPort)
    const { payload } = verifySigV4(sig, secret, Date.now(), region)
    ctx.state.principal = { kind: 'key', key, via: sig.presigned ? 'presigned' : 'sigv4' }
    if (payload.kind === 'sha256') ctx.state.payloadSha256 = payload.hex
    if (payload.kind === 'streaming') {
      const signed = payload.mode !== 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'
      ctx.state.s3Chunked = {
        trailer: payload.mode.endsWith('-TRAILER'),
        signing: signed
          ? {
              signingKey: signingKey(secret, sig.scope.date, sig.scope.region, sig.scope.service),
              amzDate: sig.amzDate,
              scope: credentialScope(sig.scope.date, sig.scope.region, sig.scope.service),
              seedSignature: sig.signature,
            }
          : undefined,
      }
    }
    return next()
  }
}

function declaredSize(ctx: Context, chunked: boolean): number | undefined {
  const raw = chunked ? ctx.get('x-amz-decoded-content-length') : ctx.get('content-length')
  if (raw === '') {
    if (chunked) throw new S3Error('MissingContentLength', 411, 'an aws-chunked upload needs x-amz-decoded-content-length')
    return undefined
  }
  if (!/^\d{1,16}$/.test(raw)) throw invalidArgument(`${chunked ? 'x-amz-decoded-content-length' : 'Content-Length'} must be a number of bytes`)
  return Number(raw)
}

/** The request's object bytes (the S3 routes' one way to read a body); a checksum verified at their end is also set in `meta`, which the write then keeps. */
export function s3Body(ctx: Context, meta?: ObjectMetadata): S3Body {
  const chunked = ctx.state.s3Chunked as { trailer: boolean; signing: ConstructorParameters<typeof AwsChunkedDecoder>[0]['signing'] } | undefined
  const size = declaredSize(ctx, chunked !== undefined)
  let stream: Readable = requestBody(ctx)
  let trailers = () => new Map<string, string>()
  const stages: Transform[] = []
  if (chunked) {
    const decoder = new AwsChunkedDecoder({ signing: chunked.signing, trailer: chunked.trailer, decodedLength: size })
    trailers = () => decoder.trailers
    stages.push(decoder)
  }
  const body: S3Body = { stream, size, checksum: undefined, md5Hex: () => tap.hex() }
  const expected = expectedChecksum((h) => ctx.get(h), trailers)
  if (expected) {
    stages.push(
      checksumCheck(expected, (value) => {
        body.checksum = { header: `x-amz-checksum-${expected.algorithm}`, value }
        if (meta) meta.checksum = { algorithm: expected.algorithm, value }
      }),
    )
  }
  const md5 = ctx.get('content-md5')
  if (md5 !== '' && !/^[A-Za-z0-9+/]{22}==$/.test(md5)) throw invalidArgument('Content-MD5 must be the base64 of a 16-byte MD5')
  const tap = md5Tap(md5 === '' ? undefined : md5)
  stages.push(tap)
  for (const stage of stages) {
    const from = stream
    from.once('error', (err) => stage.destroy(err))
    stream = from.pipe(stage)
  }
  body.stream = stream
  return body
}
