/** The headers that authenticate one request of ./dynamoctl with an access key. */
import type { Signing } from './credentials.js'

type KeySigning = Extract<Signing, { kind: 'key' }>

/**
 * Authorization for `method url` with `headers` and `body`.
 * TODO(issue 27): SigV4 (shared/sigv4/signer.ts signHeaders) once it lands; HTTP Basic until then.
 */
export function keyAuthHeaders(key: KeySigning, _method: string, _url: URL, _headers: Record<string, string>, _body: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${key.accessKeyId}:${key.secretAccessKey}`).toString('base64')}` }
}
