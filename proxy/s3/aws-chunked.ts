/**
 * The aws-chunked body (Content-Encoding: aws-chunked) of a streaming SigV4 upload, decoded as it
 * streams: `HEX-SIZE[;chunk-signature=SIG]\r\nDATA\r\n` ... a zero-size chunk, then trailer lines and
 * a blank line. In the signed forms each chunk's signature chains from the previous one (the seed is
 * the request's signature), and the trailer has its own; any bad signature, size or framing fails the
 * stream, so the write it feeds is discarded and nothing is stored. Pure apart from node:crypto.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { SignatureDoesNotMatchError } from '../../shared/errors.js'
import { EMPTY_SHA256 } from '../../shared/sigv4/canonical.js'
import { S3Error } from './errors.js'

/** A chunk header line is a size and at most one 64-digit signature: anything longer is not aws-chunked. */
const MAX_LINE_BYTES = 4096
/** Trailer bytes at most (a few checksum headers and the trailer signature). */
const MAX_TRAILER_BYTES = 16 * 1024

/** What the signed forms check each chunk with (from the request's SigV4). */
export interface ChunkSigning {
  signingKey: Buffer
  amzDate: string
  /** DATE/REGION/SERVICE/aws4_request */
  scope: string
  /** the request's own signature: the first chunk's "previous" */
  seedSignature: string
}

export interface AwsChunkedOptions {
  /** Signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]); absent: unsigned (STREAMING-UNSIGNED-PAYLOAD-TRAILER). */
  signing?: ChunkSigning | undefined
  /** Trailer lines follow the last chunk (the -TRAILER forms). */
  trailer: boolean
  /** x-amz-decoded-content-length: the decoded bytes must number exactly this. */
  decodedLength?: number | undefined
}

const incomplete = (why: string) => new S3Error('IncompleteBody', 400, `the aws-chunked body is malformed or cut short: ${why}; nothing was stored`)
const badSignature = (what: string) => new SignatureDoesNotMatchError(`the signature of ${what} does not match: nothing was stored`)

type State = 'line' | 'data' | 'data-crlf' | 'trailer' | 'final-crlf' | 'done'

/** A Transform from the aws-chunked bytes to the object's bytes; `trailers` holds the trailer headers once the body has ended. */
export class AwsChunkedDecoder extends Transform {
  readonly trailers = new Map<string, string>()
  private state: State = 'line'
  private pending: Buffer = Buffer.alloc(0)
  private remaining = 0
  private chunkSignature: string | undefined
  private chunkHash = createHash('sha256')
  private previous: string
  private decoded = 0
  private trailerBytes = 0
  private trailerSignature: string | undefined
  private trailerText = ''

  constructor(private readonly opts: AwsChunkedOptions) {
    super()
    this.previous = opts.signing?.seedSignature ?? ''
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
      this.consume()
      done()
    } catch (err) {
      done(err as Error)
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.state !== 'done' || this.pending.length > 0) done(incomplete(this.state === 'done' ? 'bytes follow the last chunk' : 'the body ended before its last chunk'))
    else if (this.opts.decodedLength !== undefined && this.decoded !== this.opts.decodedLength) {
      done(incomplete(`x-amz-decoded-content-length says ${this.opts.decodedLength} bytes, the chunks hold ${this.decoded}`))
    } else done()
  }

  private consume(): void {
    while (this.pending.length > 0 && this.state !== 'done') {
      if (this.state === 'data') {
        const n = Math.min(this.remaining, this.pending.length)
        const part = this.pending.subarray(0, n)
        this.pending = this.pending.subarray(n)
        this.remaining -= n
        this.decoded += n
        if (this.opts.decodedLength !== undefined && this.decoded > this.opts.decodedLength) throw incomplete('the chunks hold more bytes than x-amz-decoded-content-length')
        if (this.opts.signing) this.chunkHash.update(part)
        this.push(part)
        if (this.remaining === 0) this.state = 'data-crlf'
        continue
      }
      const line = this.takeLine()
      if (line === undefined) return
      if (this.state === 'data-crlf') {
        if (line !== '') throw incomplete('a chunk is longer than its size says')
        this.endChunk()
        this.state = 'line'
      } else if (this.state === 'line') this.startChunk(line)
      else if (this.state === 'trailer') this.trailerLine(line)
      else if (this.state === 'final-crlf') {
        if (line !== '') throw incomplete('bytes follow the last chunk')
        this.state = 'done'
      }
    }
  }

  /** The next CRLF-terminated line, or undefined until it has arrived whole. */
  private takeLine(): string | undefined {
    const at = this.pending.indexOf('\r\n')
    if (at < 0) {
      if (this.pending.length > (this.state === 'trailer' ? MAX_TRAILER_BYTES : MAX_LINE_BYTES)) throw incomplete('a chunk header or trailer line is too long')
      return undefined
    }
    const line = this.pending.subarray(0, at).toString('latin1')
    this.pending = this.pending.subarray(at + 2)
    return line
  }

  private startChunk(line: string): void {
    const m = /^([0-9a-fA-F]{1,16})(?:;chunk-signature=([0-9a-f]{64}))?$/.exec(line)
    if (!m) throw incomplete(`'${line.slice(0, 80)}' is not a chunk header (HEX-SIZE[;chunk-signature=SIG])`)
    const size = Number.parseInt(m[1] as string, 16)
    if (!Number.isSafeInteger(size)) throw incomplete('a chunk size is too large')
    if (this.opts.signing && m[2] === undefined) throw badSignature('a chunk without chunk-signature in a signed upload')
    this.chunkSignature = m[2]
    this.chunkHash = createHash('sha256')
    if (size > 0) {
      this.remaining = size
      this.state = 'data'
      return
    }
    // The last chunk: its signature covers no data; then trailers, or the closing blank line.
    this.endChunk()
    this.state = this.opts.trailer ? 'trailer' : 'final-crlf'
  }

  /** Checks the chunk just read against its signature (signed forms), chaining the next one from it. */
  private endChunk(): void {
    const s = this.opts.signing
    if (!s) return
    const sts = ['AWS4-HMAC-SHA256-PAYLOAD', s.amzDate, s.scope, this.previous, EMPTY_SHA256, this.chunkHash.digest('hex')].join('\n')
    this.previous = this.check(sts, this.chunkSignature, 'a chunk')
  }

  private trailerLine(line: string): void {
    this.trailerBytes += line.length + 2
    if (this.trailerBytes > MAX_TRAILER_BYTES) throw incomplete('the trailer is too long')
    if (line === '') {
      this.endTrailer()
      this.state = 'done'
      return
    }
    const colon = line.indexOf(':')
    if (colon < 1) throw incomplete(`trailer line '${line.slice(0, 80)}' is not NAME:VALUE`)
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (name === 'x-amz-trailer-signature') this.trailerSignature = value
    else {
      this.trailers.set(name, value)
      this.trailerText += `${name}:${value}\n`
    }
  }

  private endTrailer(): void {
    const s = this.opts.signing
    if (!s) return
    const sts = ['AWS4-HMAC-SHA256-TRAILER', s.amzDate, s.scope, this.previous, createHash('sha256').update(this.trailerText).digest('hex')].join('\n')
    this.check(sts, this.trailerSignature, 'the trailer')
  }

  private check(stringToSign: string, sent: string | undefined, what: string): string {
    const s = this.opts.signing as ChunkSigning
    const mine = createHmac('sha256', s.signingKey).update(stringToSign, 'utf8').digest()
    if (sent === undefined || !/^[0-9a-f]{64}$/.test(sent) || !timingSafeEqual(mine, Buffer.from(sent, 'hex'))) throw badSignature(what)
    return sent
  }
}
