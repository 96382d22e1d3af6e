/**
 * `run/credentials`: an access key in the shape SPEC.md gives, so `set -a; . run/credentials`
 * serves curl, awscli, rclone and the SDKs. Written by the launcher (mode 0600), read by
 * `./dynamoctl`, `./client.sh`, the tests, the benchmarks and the fault suite.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { ACCESS_KEY_ID_RE, SECRET_KEY_RE } from '../wire/access-api.js'

export const DEFAULT_REGION = 'us-east-1'

export interface Credentials {
  accessKeyId: string
  secretAccessKey: string
  region: string
  /** The native API, e.g. http://127.0.0.1:8080. */
  url: string
  /** The S3 endpoint, when the proxy serves one. */
  s3Url?: string | undefined
}

/** The file's lines, in SPEC order. */
export function formatCredentials(c: Credentials): string {
  const lines = [`AWS_ACCESS_KEY_ID=${c.accessKeyId}`, `AWS_SECRET_ACCESS_KEY=${c.secretAccessKey}`, `AWS_DEFAULT_REGION=${c.region}`, `AWS_REGION=${c.region}`]
  if (c.s3Url) lines.push(`AWS_ENDPOINT_URL=${c.s3Url}`)
  lines.push(`DYNAMO_URL=${c.url}`)
  return `${lines.join('\n')}\n`
}

/** Parse `NAME=value` lines (blank lines and # comments skipped); undefined unless a valid key id and secret are there. */
export function parseCredentials(text: string): Credentials | undefined {
  const env: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line)
    if (m) env[m[1] as string] = (m[2] as string).trim().replace(/^(['"])(.*)\1$/, '$2')
  }
  return credentialsFromEnv(env)
}

/** Credentials from environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, DYNAMO_URL, AWS_ENDPOINT_URL). */
export function credentialsFromEnv(env: Record<string, string | undefined>): Credentials | undefined {
  const id = env.AWS_ACCESS_KEY_ID
  const secret = env.AWS_SECRET_ACCESS_KEY
  if (!id || !secret || !ACCESS_KEY_ID_RE.test(id) || !SECRET_KEY_RE.test(secret)) return undefined
  return { accessKeyId: id, secretAccessKey: secret, region: env.AWS_REGION || env.AWS_DEFAULT_REGION || DEFAULT_REGION, url: env.DYNAMO_URL ?? '', s3Url: env.AWS_ENDPOINT_URL || undefined }
}

export function readCredentialsFile(path: string): Credentials | undefined {
  if (!existsSync(path)) return undefined
  return parseCredentials(readFileSync(path, 'utf8'))
}

export function writeCredentialsFile(path: string, c: Credentials): void {
  writeFileSync(path, formatCredentials(c), { mode: 0o600 })
  // `mode` applies only to a file created now: an existing one is narrowed too.
  chmodSync(path, 0o600)
}
