/**
 * The access key of each proxy this process started, by origin (http://host:port): the harnesses
 * that start clusters (TestCluster, the fault suite's NetnsCluster, the bench) note it here, and the
 * HTTP helpers of the tests, the fault suite and the bench look it up, so every request to a proxy
 * carries credentials while one to anything else (a storage node, the bench's bare baseline) does not.
 */
import { basicAuthorization } from '../cluster-ctl/admin-key.js'
import type { Credentials } from '../shared/config/credentials-file.js'

export { basicAuthorization }

const byOrigin = new Map<string, Credentials>()

/** Requests to `url`'s origin carry `credentials` from now on (undefined: a proxy without access keys, nothing to send). */
export function rememberProxy(url: string | URL, credentials: Credentials | undefined): void {
  if (credentials) byOrigin.set(new URL(url).origin, credentials)
  else byOrigin.delete(new URL(url).origin)
}

export function forgetProxy(url: string | URL): void {
  byOrigin.delete(new URL(url).origin)
}

/** The key for requests to `url`, when it is a remembered proxy's. */
export function proxyCredentials(url: string | URL): Credentials | undefined {
  return byOrigin.size === 0 ? undefined : byOrigin.get(new URL(url).origin)
}

/** `{ authorization: 'Basic ...' }` for a remembered proxy's `url`, else nothing. */
export function basicAuthHeaders(url: string | URL): Record<string, string> {
  const c = proxyCredentials(url)
  return c ? { authorization: basicAuthorization(c) } : {}
}

/** `init` with HTTP Basic added from `credentials`, unless it carries an Authorization header already. */
export function withBasicAuth(init: RequestInit, credentials: Credentials | undefined): RequestInit {
  if (!credentials) return init
  const headers = new Headers(init.headers)
  if (!headers.has('authorization')) headers.set('authorization', basicAuthorization(credentials))
  return { ...init, headers }
}
