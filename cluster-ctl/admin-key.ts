/**
 * The cluster's admin access key in `<runDir>/credentials`: once the proxy is healthy, the launcher
 * keeps the key that file holds if the proxy accepts it, else makes a new admin key through the
 * admin API, signed as a cluster member with the cluster secret, and writes the file (mode 0600).
 * Keys are only ever added here, never deleted: a cluster that already has keys keeps them.
 */
import { join } from 'node:path'
import { type Credentials, DEFAULT_REGION, readCredentialsFile, writeCredentialsFile } from '../shared/config/credentials-file.js'
import { MemberSigner } from '../shared/http/member-signer.js'
import { createSignedClient } from '../shared/http/signed-client.js'
import { adminRoutes, CreatedKeyAnswerSchema, type CreateKeyRequest } from '../shared/wire/access-api.js'

/** The key the launcher makes on a cluster without a usable one. */
export const ADMIN_KEY_REQUEST: CreateKeyRequest = { name: 'admin', admin: true, createBuckets: true }

/** How the launcher signs as a member: the id the proxy sees in its logs. */
const LAUNCHER_ID = 'launcher'

export function credentialsPath(runDir: string): string {
  return join(runDir, 'credentials')
}

/** The key in `<runDir>/credentials`, if there is a valid one (not checked against the cluster). */
export function clusterCredentials(layout: { runDir: string }): Credentials | undefined {
  return readCredentialsFile(credentialsPath(layout.runDir))
}

/** `Authorization` value of HTTP Basic with the key id and secret. */
export function basicAuthorization(c: Pick<Credentials, 'accessKeyId' | 'secretAccessKey'>): string {
  return `Basic ${Buffer.from(`${c.accessKeyId}:${c.secretAccessKey}`).toString('base64')}`
}

export interface AdminKeyTarget {
  runDir: string
  /** The proxy's base URL, http://host:port. */
  proxyUrl: string
  /** The cluster secret, to sign the key's creation as a member. */
  secret: string
  /** The S3 endpoint, when the proxy serves one. */
  s3Url?: string
}

/** What the proxy answered. */
interface Answer {
  status: number
  body: string
}

/**
 * Keep the admin key of `<runDir>/credentials` or make one. Returns the credentials in the file, or
 * undefined when the proxy has no admin API (a proxy from before access keys: 404), so there is
 * nothing to make. Throws when the proxy refuses, or keeps failing past `timeoutMs`.
 */
export async function ensureAdminKey(target: AdminKeyTarget, timeoutMs = 30_000): Promise<Credentials | undefined> {
  const deadline = Date.now() + timeoutMs
  const path = credentialsPath(target.runDir)
  const held = readCredentialsFile(path)
  if (held) {
    const probe = await untilSettled(() => probeKey(target.proxyUrl, held), deadline, 'checking the key in run/credentials')
    if (probe.status === 200) {
      const current = located(held, target)
      if (current.url !== held.url || current.s3Url !== held.s3Url) writeCredentialsFile(path, current)
      return current
    }
    // 401/403: the cluster does not know this key (its data was wiped, or the key revoked): make another.
  }
  const client = createSignedClient({ signer: new MemberSigner({ secret: target.secret, selfId: LAUNCHER_ID }) })
  const post = async (): Promise<Answer | undefined> => {
    try {
      const res = await client.post(`${target.proxyUrl}${adminRoutes.keys}`, { body: JSON.stringify(ADMIN_KEY_REQUEST), headers: { 'content-type': 'application/json' } })
      return { status: res.statusCode, body: res.body }
    } catch {
      return undefined
    }
  }
  const answer = await untilSettled(post, deadline, 'creating an admin key')
  if (answer.status === 404) return undefined
  if (answer.status !== 201) throw new Error(`creating an admin key: ${answer.status} ${answer.body.slice(0, 300)}`)
  const created = CreatedKeyAnswerSchema.parse(JSON.parse(answer.body))
  const credentials = located({ accessKeyId: created.key.id, secretAccessKey: created.secret, region: DEFAULT_REGION, url: target.proxyUrl }, target)
  writeCredentialsFile(path, credentials)
  return credentials
}

/** `c` pointing at the target's endpoints. */
function located(c: Credentials, target: AdminKeyTarget): Credentials {
  const { s3Url: _, ...rest } = c
  return { ...rest, url: target.proxyUrl, ...(target.s3Url ? { s3Url: target.s3Url } : {}) }
}

/** GET /buckets with the key in Basic auth: 200 when the proxy accepts it. */
async function probeKey(proxyUrl: string, c: Credentials): Promise<Answer | undefined> {
  try {
    const res = await fetch(`${proxyUrl}/buckets?limit=1`, { headers: { authorization: basicAuthorization(c) }, signal: AbortSignal.timeout(5000) })
    return { status: res.status, body: await res.text() }
  } catch {
    return undefined
  }
}

/**
 * Repeat `attempt` while the proxy cannot be reached or answers 503 (it is still loading the access
 * catalog), until `deadline`; returns the first other answer.
 */
async function untilSettled(attempt: () => Promise<Answer | undefined>, deadline: number, what: string): Promise<Answer> {
  for (let wait = 100; ; wait = Math.min(wait * 2, 1000)) {
    const answer = await attempt()
    if (answer && answer.status !== 503) return answer
    if (Date.now() + wait > deadline) throw new Error(`${what}: ${answer ? `still 503 ${answer.body.slice(0, 200)}` : 'no answer'} from the proxy`)
    await new Promise((r) => setTimeout(r, wait))
  }
}
