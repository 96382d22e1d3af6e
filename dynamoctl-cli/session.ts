/** What a command of ./dynamoctl works with: the global options resolved into a URL, a way to sign, and a client. */
import type { Command } from 'commander'
import { InvalidArgumentError } from '../devtools/command-line.js'
import { assertBucketName } from '../shared/names.js'
import { ACCESS_KEY_ID_RE } from '../shared/wire/access-api.js'
import { AdminClient } from './admin-client.js'
import { type GlobalOptions, resolveSigning, resolveUrl, type Signing } from './credentials.js'

export interface Session {
  url: URL
  signing: Signing
  client: AdminClient
  /** --json: print the answer as JSON instead of a table. */
  json: boolean
}

/** The session of the command `cmd` runs: its options and the global ones (given before or after the command). */
export function openSession(cmd: Command, env: NodeJS.ProcessEnv = process.env): Session {
  const opts = cmd.optsWithGlobals<GlobalOptions>()
  const url = resolveUrl(opts, env)
  const signing = resolveSigning(opts, env)
  return { url, signing, client: new AdminClient(url, signing), json: opts.json === true }
}

/** Commander argument parser of an access key id: a malformed one is a usage error (exit 2), never sent. */
export function parseKeyId(text: string): string {
  if (!ACCESS_KEY_ID_RE.test(text)) throw new InvalidArgumentError('an access key id is DK followed by 18 of A-Z0-9')
  return text
}

/** Commander argument parser of a bucket name (S3 rules, as the proxy checks them). */
export function parseBucket(text: string): string {
  try {
    assertBucketName(text)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
  return text
}
