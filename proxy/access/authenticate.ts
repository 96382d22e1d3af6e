/**
 * Who sent the request: an access key (AWS Signature V4 in the header or a presigned URL, or HTTP
 * Basic `id:secret`), a member signature (the cluster secret; key management only), or nobody. Bad
 * credentials are refused here (403 InvalidAccessKeyId / SignatureDoesNotMatch); no credentials are
 * refused here too (401) unless the path can be open (health, metrics, the page's static files, and
 * object reads, which a public bucket allows): the route's guard (guard.ts) decides those.
 * Never answers `WWW-Authenticate: Basic`, which would make browsers prompt, cache and replay.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Context, Middleware } from 'koa'
import { AuthorizationHeaderMalformedError, InvalidAccessKeyIdError, SignatureDoesNotMatchError, UnauthorizedError } from '../../shared/errors.js'
import { refusalMessage, type RequestVerifier } from '../../shared/http/request-verifier.js'
import { HEADER_SIGNATURE } from '../../shared/wire/headers.js'
import type { SealedSecret } from '../../shared/wire/access-records.js'
import type { AccessCatalog } from './catalog.js'
import { refuseOtherEndpoint } from './endpoint-host.js'
import type { ResolvedKey } from './policy.js'
import type { Principal } from './principal.js'
import type { SecretBox } from './secret-box.js'
import { type PayloadHash, parseSigV4, verifySigV4 } from './sigv4-verifier.js'
import { readWhole } from '../coordinator/body-streams.js'

export interface AuthenticateComponents {
  catalog: AccessCatalog
  box: SecretBox
  members: RequestVerifier
}

export const HOW_TO_AUTHENTICATE =
  'this request needs an access key: sign it with AWS Signature V4 (curl --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY") or send the key as HTTP Basic credentials over TLS (curl -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"); `make run` writes an admin key to run/credentials, ./dynamoctl key create makes more'

/** A body signed by its hash without x-amz-content-sha256 (curl --data-binary) is read whole to check it up to this size. */
const SIGNED_BODY_MAX_BYTES = 1024 * 1024

/** All bodies held for that check at once, at most (past it, such a request is refused as if it had not verified). */
const SIGNED_BODIES_MAX_BYTES = 16 * 1024 * 1024

/** Opened secrets kept at most (a bound against a flood of distinct valid keys; past it the cache starts over). */
const MAX_OPENED = 10_000

/** Paths that may be served without a key (the guard still decides, e.g. whether a bucket is public). */
function mayBeOpen(method: string, path: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false
  return path === '/health' || path === '/metrics' || path === '/ui' || path.startsWith('/ui/') || /^\/buckets\/[^/]+\/files\/./.test(path)
}

/** A key and its opened secret, by key id: InvalidAccessKeyIdError when the cluster has no such key (looked up again once first). */
export type KeyLookup = (id: string) => Promise<{ key: ResolvedKey; secret: string }>

/** The lookup both endpoints (native and S3) authenticate with; secrets are opened once per sealed value. */
export function keyLookup(c: Pick<AuthenticateComponents, 'catalog' | 'box'>): KeyLookup {
  const opened = new Map<string, { sealed: SealedSecret; secret: string }>()
  return async (id: string): Promise<{ key: ResolvedKey; secret: string }> => {
    let key = c.catalog.policy().key(id)
    if (!key) {
      // Made a moment ago through another proxy? Look once more before refusing.
      await c.catalog.refresh()
      key = c.catalog.policy().key(id)
    }
    if (!key) throw new InvalidAccessKeyIdError(`the access key id ${id} does not exist in this cluster`)
    // Opened once per sealed secret (a rotation seals a new one), not on every request.
    const cached = opened.get(id)
    let secret = cached && cached.sealed.ct === key.sealed.ct && cached.sealed.iv === key.sealed.iv ? cached.secret : undefined
    if (secret === undefined) {
      secret = c.box.open(id, key.sealed)
      if (secret !== undefined) {
        if (opened.size >= MAX_OPENED) opened.clear()
        opened.set(id, { sealed: key.sealed, secret })
      }
    }
    if (secret === undefined) throw new InvalidAccessKeyIdError(`the secret of access key ${id} was sealed with a cluster secret this proxy does not hold`)
    return { key, secret }
  }
}

/** `otherPort`: the S3 endpoint's port, whose requests this endpoint refuses (endpoint-host.ts). */
export function authenticate(c: AuthenticateComponents, region: string, otherPort?: number): Middleware {
  const keyFor = keyLookup(c)
  let bufferedBytes = 0

  const identify = async (ctx: Context): Promise<Principal | undefined> => {
    const sig = parseSigV4({ method: ctx.method, url: ctx.url, headers: ctx.headers, headersDistinct: ctx.req.headersDistinct })
    if (sig) {
      refuseOtherEndpoint(ctx.get('host'), otherPort)
      const { key, secret } = await keyFor(sig.accessKeyId)
      const now = Date.now()
      let payload: PayloadHash
      try {
        payload = verifySigV4(sig, secret, now, region).payload
      } catch (err) {
        // curl --data-binary signs its body's hash without sending it: a small body is read and tried once.
        const declared = Number(ctx.get('content-length') || 0)
        if (!(err instanceof SignatureDoesNotMatchError) || sig.presigned || ctx.get('x-amz-content-sha256') !== '' || declared <= 0 || declared > SIGNED_BODY_MAX_BYTES) throw err
        // Anyone who knows a key id can send such a body: the bytes held for this check at once are bounded.
        if (bufferedBytes + declared > SIGNED_BODIES_MAX_BYTES) throw err
        bufferedBytes += declared
        const body = await readWhole(ctx.req, declared).finally(() => {
          bufferedBytes -= declared
        })
        payload = verifySigV4(sig, secret, now, region, { bodySha256: createHash('sha256').update(body).digest('hex') }).payload
        ctx.state.bufferedBody = body
      }
      if (payload.kind === 'sha256') ctx.state.payloadSha256 = payload.hex
      return { kind: 'key', key, via: sig.presigned ? 'presigned' : 'sigv4' }
    }
    const auth = ctx.get('authorization')
    if (/^basic /i.test(auth)) {
      const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      if (colon < 1) throw new AuthorizationHeaderMalformedError('Basic credentials are base64 of ACCESS_KEY_ID:SECRET')
      const { key, secret } = await keyFor(decoded.slice(0, colon))
      const given = Buffer.from(decoded.slice(colon + 1))
      const want = Buffer.from(secret)
      if (given.length !== want.length || !timingSafeEqual(given, want)) throw new SignatureDoesNotMatchError(`wrong secret for access key ${key.id}`)
      return { kind: 'key', key, via: 'basic' }
    }
    // The metrics token is checked by the route's guard (guard.ts { bearer }), not here.
    if (/^bearer /i.test(auth) && ctx.path === '/metrics') return undefined
    if (auth !== '') throw new AuthorizationHeaderMalformedError('unsupported Authorization scheme: use AWS4-HMAC-SHA256 (Signature V4) or Basic')
    if (ctx.get(HEADER_SIGNATURE) !== '') {
      const checked = c.members.verify(ctx.method, ctx.url, (h) => ctx.get(h) || undefined)
      if ('refused' in checked) throw new UnauthorizedError(refusalMessage(checked.refused).replace('internal API', 'member signature'))
      ctx.set(checked.ok.answerHeaders)
      return { kind: 'member', id: checked.ok.from }
    }
    return undefined
  }

  return async (ctx, next) => {
    const principal = await identify(ctx)
    if (principal) ctx.state.principal = principal
    else if (!mayBeOpen(ctx.method, ctx.path)) {
      ctx.set('WWW-Authenticate', `AWS4-HMAC-SHA256 realm="dynamo", region="${region}"`)
      throw new UnauthorizedError(HOW_TO_AUTHENTICATE)
    }
    await next()
  }
}
