/**
 * Where ./dynamoctl sends its requests and how it signs them: the proxy's URL and either an access
 * key or the cluster secret, each found in a fixed order (docs/access.md#dynamoctl).
 */
import { existsSync, readFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { type Credentials, credentialsFromEnv, DEFAULT_REGION, readCredentialsFile } from '../shared/config/credentials-file.js'
import { ACCESS_KEY_ID_RE } from '../shared/wire/access-api.js'
import { CliError, EXIT, usageError } from './errors.js'

/** The options every command takes (see cli.ts). */
export interface GlobalOptions {
  url?: string
  keyId?: string
  secret?: string
  credentials?: string
  secretFile?: string
  json?: boolean
}

/** How requests are signed: with an access key (SigV4), or as a cluster member with the cluster secret. */
export type Signing = { kind: 'key'; accessKeyId: string; secretAccessKey: string; region: string; source: string } | { kind: 'member'; secret: string; source: string }

/** Shorter than this is no cluster secret (the servers refuse it too: shared/config/common.ts loadSecret). */
const MIN_SECRET_CHARS = 16

/** The project's root: this file runs as dist/dynamoctl-cli/*.js (or from its source with tsx). */
function projectRoot(): string {
  const parent = dirname(import.meta.dirname)
  return basename(parent) === 'dist' ? dirname(parent) : parent
}

/** `run/` as the launcher uses it: RUN_DIR (relative to the project root, as start_n_servers.sh runs there) or `<root>/run`. */
export function runDir(env: NodeJS.ProcessEnv): string {
  return resolve(projectRoot(), env.RUN_DIR ?? 'run')
}

function keySigning(c: Pick<Credentials, 'accessKeyId' | 'secretAccessKey' | 'region'>, source: string): Signing {
  return { kind: 'key', accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, region: c.region, source }
}

function readSecretFile(path: string, source: string): Signing {
  let secret: string
  try {
    secret = readFileSync(path, 'utf8').trim()
  } catch (err) {
    throw new CliError(EXIT.unreachable, `cannot read the cluster secret from ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'NoCredentials')
  }
  if (secret.length < MIN_SECRET_CHARS) throw new CliError(EXIT.unreachable, `${path} holds no cluster secret (at least ${MIN_SECRET_CHARS} characters)`, 'NoCredentials')
  return { kind: 'member', secret, source }
}

function credentialsFile(opts: GlobalOptions, env: NodeJS.ProcessEnv): string {
  return opts.credentials ? resolve(opts.credentials) : join(runDir(env), 'credentials')
}

/**
 * The first of, in order:
 * 1. a flag, which says what the user means and so wins: `--key-id` with `--secret`, `--credentials FILE`
 *    or `--secret-file FILE` (at most one of the three);
 * 2. AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY;
 * 3. `run/credentials`;
 * 4. the cluster secret: CLUSTER_SECRET, then `run/cluster.secret`.
 * Throws a usage error for contradictory or malformed flags, and exit 3 when nothing is found.
 */
export function resolveSigning(opts: GlobalOptions, env: NodeJS.ProcessEnv): Signing {
  const flagged = [opts.keyId !== undefined || opts.secret !== undefined, opts.credentials !== undefined, opts.secretFile !== undefined].filter(Boolean).length
  if (flagged > 1) throw usageError('give one of --key-id/--secret, --credentials and --secret-file')
  if (opts.keyId !== undefined || opts.secret !== undefined) {
    if (!opts.keyId || !opts.secret) throw usageError('--key-id and --secret go together')
    if (!ACCESS_KEY_ID_RE.test(opts.keyId)) throw usageError(`--key-id ${opts.keyId} is not an access key id (DK and 18 of A-Z0-9)`)
    return keySigning({ accessKeyId: opts.keyId, secretAccessKey: opts.secret, region: env.AWS_REGION || env.AWS_DEFAULT_REGION || DEFAULT_REGION }, '--key-id')
  }
  if (opts.credentials !== undefined) {
    const file = credentialsFile(opts, env)
    const c = readCredentialsFile(file)
    if (!c) throw new CliError(EXIT.unreachable, `${file} holds no access key (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY lines)`, 'NoCredentials')
    return keySigning(c, file)
  }
  if (opts.secretFile !== undefined) return readSecretFile(resolve(opts.secretFile), opts.secretFile)
  if (env.AWS_ACCESS_KEY_ID || env.AWS_SECRET_ACCESS_KEY) {
    const c = credentialsFromEnv(env)
    if (!c) throw usageError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment are not a dynamo access key (DK... and a 40-character secret): unset them or pass a flag')
    return keySigning(c, 'the environment')
  }
  const file = credentialsFile(opts, env)
  const c = readCredentialsFile(file)
  if (c) return keySigning(c, file)
  const envSecret = (env.CLUSTER_SECRET ?? '').trim()
  if (envSecret.length >= MIN_SECRET_CHARS) return { kind: 'member', secret: envSecret, source: 'CLUSTER_SECRET' }
  const secretPath = join(runDir(env), 'cluster.secret')
  if (existsSync(secretPath)) return readSecretFile(secretPath, secretPath)
  throw new CliError(
    EXIT.unreachable,
    `no credentials: pass --key-id and --secret, set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or have ${file} (make run writes it); or sign with the cluster secret (--secret-file, CLUSTER_SECRET)`,
    'NoCredentials',
  )
}

/** The native API's URL: --url, DYNAMO_URL, the DYNAMO_URL of the credentials file, else http://127.0.0.1:$PROXY_PORT (8080). */
export function resolveUrl(opts: GlobalOptions, env: NodeJS.ProcessEnv): URL {
  const text = opts.url ?? env.DYNAMO_URL ?? (readCredentialsFile(credentialsFile(opts, env))?.url || undefined) ?? `http://127.0.0.1:${env.PROXY_PORT ?? 8080}`
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw usageError(`${text} is not a URL (e.g. http://127.0.0.1:8080)`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`${text}: only http and https URLs`)
  return url
}
