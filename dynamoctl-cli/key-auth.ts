/** The headers that authenticate one request of ./dynamoctl with an access key: AWS Signature V4, the body's hash signed. */
import { createHash } from 'node:crypto'
import { signHeaders } from '../shared/sigv4/signer.js'
import type { Signing } from './credentials.js'

type KeySigning = Extract<Signing, { kind: 'key' }>

/**
 * Authorization, x-amz-date and x-amz-content-sha256 for `method url` with `headers` (all signed, so
 * send them as given) and `body`, whose SHA-256 is signed: the proxy checks the body against it.
 */
export function keyAuthHeaders(key: KeySigning, method: string, url: URL, headers: Record<string, string>, body: string): Record<string, string> {
  const payloadHash = createHash('sha256').update(body).digest('hex')
  return signHeaders(key, { method, url, headers, payloadHash })
}
