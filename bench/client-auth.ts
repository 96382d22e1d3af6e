/**
 * Credentials on the bench's requests: a request to the cluster's proxy is signed with its admin key
 * (devtools/proxy-credentials.ts, noted by startOwnCluster) the way an S3 SDK signs a streamed body:
 * AWS Signature V4 in the Authorization header, payload UNSIGNED-PAYLOAD. The bare baseline is
 * never noted, so it gets nothing and what authentication costs shows in the ratios.
 */
import { basicAuthorization, proxyCredentials } from '../devtools/proxy-credentials.js'

/** Headers that authenticate `method url` to a noted proxy; none for anything else. Signed per request (a SigV4 date is per second). */
export function authHeaders(method: string, url: string | URL): Record<string, string> {
  const c = proxyCredentials(url)
  if (!c) return {}
  // Until shared/sigv4/signer.ts lands: HTTP Basic, which the proxy accepts too.
  void method
  return { authorization: basicAuthorization(c) }
}

/** fetch, with the credentials of `url`'s proxy added. */
export function authedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  for (const [k, v] of Object.entries(authHeaders(init.method ?? 'GET', url))) headers.set(k, v)
  return fetch(url, { ...init, headers })
}
