/** Test-only: an aws-chunked body as S3 clients send it (signed chunks, optional trailer), and a signed request carrying one. */
import { createHash, createHmac } from 'node:crypto'
import { credentialScope, EMPTY_SHA256, signingKey } from '../../shared/sigv4/canonical.js'
import { signHeaders, type SigV4Credentials } from '../../shared/sigv4/signer.js'

export interface ChunkSigner {
  signingKey: Buffer
  amzDate: string
  scope: string
  seedSignature: string
}

const hmacHex = (key: Buffer, text: string) => createHmac('sha256', key).update(text, 'utf8').digest('hex')
const sha256Hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

/** The body of `chunks` (each a chunk's data; the empty last chunk is added), signed when `signer` is given, with `trailers` after it. */
export function encodeAwsChunked(chunks: readonly Buffer[], signer?: ChunkSigner, trailers?: Record<string, string>): Buffer {
  const parts: Buffer[] = []
  let previous = signer?.seedSignature ?? ''
  for (const data of [...chunks, Buffer.alloc(0)]) {
    let header = data.length.toString(16)
    if (signer) {
      previous = hmacHex(signer.signingKey, ['AWS4-HMAC-SHA256-PAYLOAD', signer.amzDate, signer.scope, previous, EMPTY_SHA256, sha256Hex(data)].join('\n'))
      header += `;chunk-signature=${previous}`
    }
    parts.push(Buffer.from(`${header}\r\n`), data)
    if (data.length > 0) parts.push(Buffer.from('\r\n'))
  }
  if (trailers) {
    let text = ''
    for (const [k, v] of Object.entries(trailers)) {
      parts.push(Buffer.from(`${k}:${v}\r\n`))
      text += `${k}:${v}\n`
    }
    if (signer) parts.push(Buffer.from(`x-amz-trailer-signature:${hmacHex(signer.signingKey, ['AWS4-HMAC-SHA256-TRAILER', signer.amzDate, signer.scope, previous, sha256Hex(text)].join('\n'))}\r\n`))
  }
  parts.push(Buffer.from('\r\n'))
  return Buffer.concat(parts)
}

/** Headers and body of a PUT of `chunks` to `url` as STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], every chunk signed. */
export function signedChunkedPut(c: SigV4Credentials, url: URL, chunks: readonly Buffer[], trailers?: Record<string, string>, now = new Date()): { headers: Record<string, string>; body: Buffer } {
  const mode = trailers ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'
  const decoded = chunks.reduce((n, b) => n + b.length, 0)
  const extra: Record<string, string> = { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decoded) }
  if (trailers) extra['x-amz-trailer'] = Object.keys(trailers).join(',')
  const signed = signHeaders(c, { method: 'PUT', url, headers: extra, payloadHash: mode }, now)
  const amzDate = signed['x-amz-date'] as string
  const date = amzDate.slice(0, 8)
  const seedSignature = /Signature=([0-9a-f]{64})/.exec(signed.authorization as string)?.[1] as string
  const signer = { signingKey: signingKey(c.secretAccessKey, date, c.region, c.service ?? 's3'), amzDate, scope: credentialScope(date, c.region, c.service ?? 's3'), seedSignature }
  return { headers: { ...extra, ...signed }, body: encodeAwsChunked(chunks, signer, trailers) }
}
