/** `./dynamoctl presign BUCKET KEY`: a presigned URL for one object (SigV4 in the query), made here with an access key; nothing is sent. */
import type { Command } from 'commander'
import { InvalidArgumentError, parseChoice, parseIntArg } from '../devtools/command-line.js'
import { PRESIGN_MAX_EXPIRES_SECONDS } from '../shared/constants.js'
import { assertKey } from '../shared/names.js'
import { presignUrl } from '../shared/sigv4/signer.js'
import { type GlobalOptions, resolveSigning, resolveUrl } from './credentials.js'
import { CliError, EXIT } from './errors.js'
import { line, printJson } from './output.js'
import { parseBucket } from './session.js'

/** Long enough to hand a link to someone, short enough that a leaked one soon stops working. */
const DEFAULT_EXPIRES_S = 300

/** RFC 3986 percent-encoding (encodeURIComponent leaves !'()* alone), so the path is the same however a signer or verifier normalizes it. */
function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** The native API's path of an object: slashes in the key stay path separators. */
export function objectPath(bucket: string, key: string): string {
  return `/buckets/${encodeSegment(bucket)}/files/${key.split('/').map(encodeSegment).join('/')}`
}

function parseObjectKey(text: string): string {
  try {
    assertKey(text)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
  return text
}

export function addPresignCommand(program: Command): void {
  program
    .command('presign')
    .description('print a presigned URL of one object: whoever holds it may make that one request, with no key, until it expires (sends nothing; needs an access key)')
    .argument('<bucket>', 'the bucket', parseBucket)
    .argument('<key>', "the object's key", parseObjectKey)
    .option('--expires <seconds>', `how long the URL works, 1..${PRESIGN_MAX_EXPIRES_SECONDS}`, parseIntArg(1, PRESIGN_MAX_EXPIRES_SECONDS), DEFAULT_EXPIRES_S)
    .option('--method <method>', 'the request it allows', parseChoice('GET', 'HEAD', 'PUT', 'DELETE'), 'GET')
    .action((bucket: string, key: string, o: { expires: number; method: string }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>()
      const base = resolveUrl(opts, process.env)
      const signing = resolveSigning(opts, process.env)
      if (signing.kind !== 'key')
        throw new CliError(EXIT.unreachable, `presign needs an access key (found only the cluster secret, in ${signing.source}, which signs no client request)`, 'NoCredentials')
      const url = new URL(base.pathname.replace(/\/+$/, '') + objectPath(bucket, key), base)
      const signed = presignUrl(signing, { method: o.method, url, expiresSeconds: o.expires })
      if (opts.json) printJson({ url: signed.href, method: o.method, expires: new Date(Date.now() + o.expires * 1000).toISOString() })
      else line(signed.href)
    })
}
