/**
 * Credentials on the bench's requests: a request to the cluster's proxy is signed with its admin key
 * (devtools/proxy-credentials.ts, noted by startOwnCluster) the way an S3 SDK signs a streamed body:
 * AWS Signature V4 in the Authorization header, payload UNSIGNED-PAYLOAD. The bare baseline is
 * never noted, so it gets nothing and what authentication costs shows in the ratios.
 */
import { proxyCredentials } from '../devtools/proxy-credentials.js'
import { signHeaders } from '../shared/sigv4/signer.js'

/** Headers that authenticate `method url` to a noted proxy; none for anything else. Signed per request: x-amz-date is part of the signature. */
export function authHeaders(method: string, url: string | URL): Record<string, string> {
  const c = proxyCredentials(url)
  return c ? signHeaders(c, { method, url: new URL(url) }) : {}
}

/** fetch, with the credentials of `url`'s proxy added. */
export function authedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  for (const [k, v] of Object.entries(authHeaders(init.method ?? 'GET', url))) headers.set(k, v)
  return fetch(url, { ...init, headers })
}
