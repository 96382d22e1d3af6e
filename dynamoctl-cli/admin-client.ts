/**
 * The proxy's admin API (shared/wire/access-api.ts) as ./dynamoctl calls it: one method per route,
 * each request signed with an access key or, with only the cluster secret, as a cluster member;
 * answers checked with the wire schemas, refusals turned into CliErrors carrying the server's code.
 */
import got, { type Got, RequestError } from 'got'
import { z } from 'zod'
import { MemberSigner } from '../shared/http/member-signer.js'
import { createSignedClient } from '../shared/http/signed-client.js'
import {
  adminRoutes,
  BucketInfoAnswerSchema,
  type CreateKeyRequest,
  CreatedKeyAnswerSchema,
  type GrantChange,
  GrantAnswerSchema,
  KeyListAnswerSchema,
  KvInfoAnswerSchema,
} from '../shared/wire/access-api.js'
import type { Signing } from './credentials.js'
import { CliError, EXIT } from './errors.js'
import { keyAuthHeaders } from './key-auth.js'

/** The id a member-signed request names as its sender. */
export const MEMBER_ID = 'dynamoctl'
/** A proxy that does not accept the connection by then is taken as unreachable (exit 3). */
const CONNECT_TIMEOUT_MS = 3000
/** Longest silence of a connected proxy; admin calls are small, so this is generous. */
const IDLE_TIMEOUT_MS = 15_000

const SuccessSchema = z.looseObject({ success: z.literal(true) })
/** Answer of PUT /admin/buckets/:bucket/public. */
const PublicAnswerSchema = z.looseObject({ success: z.literal(true), bucket: z.string(), public: z.boolean() })
type Schema<T> = Pick<z.ZodType<T>, 'parse'>

export class AdminClient {
  private readonly http: Got

  constructor(
    readonly url: URL,
    private readonly signing: Signing,
  ) {
    this.http =
      signing.kind === 'member'
        ? createSignedClient({ signer: new MemberSigner({ secret: signing.secret, selfId: MEMBER_ID }), connectTimeoutMs: CONNECT_TIMEOUT_MS, idleTimeoutMs: IDLE_TIMEOUT_MS })
        : got.extend({ retry: { limit: 0 }, throwHttpErrors: false, followRedirect: false, timeout: { connect: CONNECT_TIMEOUT_MS, socket: IDLE_TIMEOUT_MS } })
  }

  createKey(req: CreateKeyRequest) {
    return this.request('POST', adminRoutes.keys, CreatedKeyAnswerSchema, req)
  }
  listKeys() {
    return this.request('GET', adminRoutes.keys, KeyListAnswerSchema)
  }
  deleteKey(id: string) {
    return this.request('DELETE', adminRoutes.key(id), SuccessSchema)
  }
  rotateKey(id: string) {
    return this.request('POST', adminRoutes.rotateKey(id), CreatedKeyAnswerSchema)
  }
  bucketInfo(bucket: string) {
    return this.request('GET', adminRoutes.bucket(bucket), BucketInfoAnswerSchema)
  }
  changeBucketGrant(bucket: string, id: string, change: GrantChange) {
    return this.request('POST', adminRoutes.bucketGrant(bucket, id), GrantAnswerSchema, change)
  }
  setPublic(bucket: string, on: boolean) {
    return this.request('PUT', adminRoutes.bucketPublic(bucket), PublicAnswerSchema, { public: on })
  }
  kvInfo() {
    return this.request('GET', adminRoutes.kv, KvInfoAnswerSchema)
  }
  changeKvGrant(id: string, change: GrantChange) {
    return this.request('POST', adminRoutes.kvGrant(id), GrantAnswerSchema, change)
  }

  /** One request; its parsed answer, or a CliError: exit 1 for a refusal or failure, 3 when the proxy is out of reach. */
  async request<T>(method: string, path: string, schema: Schema<T>, body?: unknown): Promise<T> {
    const url = new URL(this.url.pathname.replace(/\/+$/, '') + path, this.url)
    const text = body === undefined ? '' : JSON.stringify(body)
    let res = await this.send(method, url, text)
    // A member signature refused as stale taught the signer the proxy's clock (signed-client.ts): sign again once on it.
    if (res.statusCode === 401 && this.signing.kind === 'member') res = await this.send(method, url, text)
    let answer: unknown
    try {
      answer = JSON.parse(res.body)
    } catch {
      throw new CliError(EXIT.refused, `HTTP ${res.statusCode} from ${url.origin} without a JSON answer: is ${this.url} the native API of a proxy?`, 'BadAnswer', res.statusCode)
    }
    if (res.statusCode < 200 || res.statusCode > 299) {
      const err = refusal(res.statusCode, answer)
      // A member signature names the proxy's address as the URL spells it: another spelling (localhost, a name) is refused.
      if (res.statusCode === 401 && this.signing.kind === 'member') err.message += ` (signed with the cluster secret for ${this.url.host}: use the address the proxy was started with in --url)`
      throw err
    }
    try {
      return schema.parse(answer)
    } catch {
      throw new CliError(EXIT.refused, `the proxy's answer to ${method} ${path} is not what this dynamoctl expects (an older or newer proxy?)`, 'BadAnswer', res.statusCode)
    }
  }

  private async send(method: string, url: URL, text: string): Promise<{ statusCode: number; body: string }> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (text) headers['content-type'] = 'application/json'
    if (this.signing.kind === 'key') Object.assign(headers, keyAuthHeaders(this.signing, method, url, headers, text))
    try {
      // A member signature covers a body given as a string (signed-client.ts), so the body is sent as one, never as got's `json`.
      const res = await this.http(url, { method: method as 'GET', headers, ...(text ? { body: text } : {}) })
      return { statusCode: res.statusCode, body: typeof res.body === 'string' ? res.body : String(res.body) }
    } catch (err) {
      if (err instanceof RequestError) throw new CliError(EXIT.unreachable, `cannot reach the proxy at ${this.url.origin}: ${err.code ?? err.message}`, 'Unreachable')
      throw err
    }
  }
}

/** The cluster's `{success:false, error:{code, message}}` as a CliError. */
function refusal(status: number, answer: unknown): CliError {
  const error = (answer as { error?: { code?: unknown; message?: unknown } } | null)?.error
  const code = typeof error?.code === 'string' ? error.code : `HTTP${status}`
  const message = typeof error?.message === 'string' ? error.message : `HTTP ${status}`
  return new CliError(EXIT.refused, message, code, status)
}
