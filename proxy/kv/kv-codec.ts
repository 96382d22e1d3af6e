/**
 * The key-value API's data shapes (seed 002): keys and values as `{encoding: "string"|"binary", data}`,
 * binary data base64 on the wire. A KV key maps to a storage key in the reserved namespace:
 * `s:<text>` for string keys, `b:<base64url>` for binary ones; the encodings travel in the version's
 * content type, so a value comes back in the encoding it was set with.
 */
import { z } from 'zod'
import { assertKey } from '../../shared/names.js'

export const EncodedSchema = z.object({ encoding: z.string(), data: z.string() })
export type Encoded = z.infer<typeof EncodedSchema>
export type Encoding = 'string' | 'binary'

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** The bytes of an encoded datum, or a reason it is not one. */
export function decodeDatum(raw: unknown): { ok: true; encoding: Encoding; bytes: Buffer } | { ok: false; reason: string } {
  const parsed = EncodedSchema.safeParse(raw)
  if (!parsed.success) return { ok: false, reason: 'expected {"encoding": "string"|"binary", "data": "..."}' }
  const { encoding, data } = parsed.data
  if (encoding === 'string') return { ok: true, encoding, bytes: Buffer.from(data, 'utf8') }
  if (encoding === 'binary') {
    if (!BASE64_RE.test(data)) return { ok: false, reason: 'binary data is not valid base64' }
    return { ok: true, encoding, bytes: Buffer.from(data, 'base64') }
  }
  return { ok: false, reason: `unknown encoding "${encoding}" (use "string" or "binary")` }
}

export function encodeDatum(encoding: Encoding, bytes: Buffer): Encoded {
  return { encoding, data: encoding === 'string' ? bytes.toString('utf8') : bytes.toString('base64') }
}

/** Storage key of a KV key; throws InvalidKeyError when it cannot be one (empty, too long, control characters). */
export function storageKey(encoding: Encoding, bytes: Buffer): string {
  const key = encoding === 'string' ? `s:${bytes.toString('utf8')}` : `b:${bytes.toString('base64url')}`
  if (bytes.length === 0) assertKey('')
  assertKey(key)
  return key
}

/** The KV key a storage key stands for. */
export function kvKeyOf(key: string): Encoded {
  return key.startsWith('b:') ? encodeDatum('binary', Buffer.from(key.slice(2), 'base64url')) : encodeDatum('string', Buffer.from(key.slice(2), 'utf8'))
}

/** Content type recording the value's encoding. */
export function contentTypeFor(valueEncoding: Encoding): string {
  return `application/x-kv-${valueEncoding}`
}

export function valueEncodingOf(contentType: string): Encoding {
  return contentType === 'application/x-kv-binary' ? 'binary' : 'string'
}
