/**
 * Small fetch helpers for cluster tests. Their `fetch` is the global one plus the admin key (HTTP
 * Basic) on requests to the proxy of a started TestCluster (devtools/proxy-credentials.ts), so tests
 * import it in place of the global; requests to storage nodes go out as they are (member-signed by
 * the caller). `anonymous: true` sends none, for what a request without credentials gets.
 */
import type { ClusterFetchInit } from '../../devtools/test-cluster.js'
import { basicAuthHeaders, proxyCredentials, withBasicAuth } from '../../devtools/proxy-credentials.js'

export function fetch(url: string | URL, init: ClusterFetchInit = {}): Promise<Response> {
  const { anonymous, ...rest } = init
  return globalThis.fetch(url, anonymous ? rest : withBasicAuth(rest, proxyCredentials(url)))
}

/** `{ authorization }` for a request to a started cluster's proxy at `url`, for node:http and raw sockets. */
export function authHeaders(url: string | URL): Record<string, string> {
  return basicAuthHeaders(url)
}

/** The Authorization header line (with its CRLF) of a raw request to the proxy at `url`, or nothing. */
export function authLine(url: string | URL): string {
  return Object.entries(basicAuthHeaders(url))
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')
}

export async function json(res: Response): Promise<Record<string, unknown> & { success: boolean }> {
  return (await res.json()) as Record<string, unknown> & { success: boolean }
}

export async function createBucket(base: string, bucket: string): Promise<void> {
  const res = await fetch(`${base}/buckets/${bucket}`, { method: 'POST' })
  if (res.status !== 201) throw new Error(`create bucket ${bucket}: ${res.status} ${await res.text()}`)
}

export function put(base: string, bucket: string, key: string, body: string | Uint8Array, headers: Record<string, string> = {}, query = ''): Promise<Response> {
  return fetch(`${base}/buckets/${bucket}/files/${encodeURIComponent(key)}${query}`, { method: 'PUT', body, headers })
}

export function get(base: string, bucket: string, key: string, query = ''): Promise<Response> {
  return fetch(`${base}/buckets/${bucket}/files/${encodeURIComponent(key)}${query}`)
}
