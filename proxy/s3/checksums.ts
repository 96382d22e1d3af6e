/**
 * S3's flexible checksums (x-amz-checksum-crc32 / crc32c / sha1 / sha256, as a header or an
 * aws-chunked trailer): computed over the object's bytes as they stream, compared at their end. A
 * mismatch fails the stream, so the write it feeds is discarded and nothing is stored.
 */
import { createHash } from 'node:crypto'
import { Transform } from 'node:stream'
import { crc32 } from 'node:zlib'
import { BadDigestError } from '../../shared/errors.js'
import { invalidArgument, notImplemented } from './errors.js'

export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'sha1', 'sha256'] as const
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number]

/** The header (and trailer) that carries an algorithm's checksum, base64 of its big-endian bytes. */
export const checksumHeader = (a: ChecksumAlgorithm) => `x-amz-checksum-${a}`

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven; node:zlib has only CRC-32. */
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

export function crc32c(data: Uint8Array, previous = 0): number {
  let c = ~previous >>> 0
  for (const b of data) c = (CRC32C_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8)
  return ~c >>> 0
}

/** An incremental hasher of one algorithm, whose digest is what the header carries (base64). */
export interface Checksummer {
  update(chunk: Buffer): void
  digest(): string
}

function crcDigest(value: number): string {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(value >>> 0)
  return b.toString('base64')
}

export function checksummer(a: ChecksumAlgorithm): Checksummer {
  if (a === 'sha1' || a === 'sha256') {
    const h = createHash(a)
    return { update: (c) => h.update(c), digest: () => h.digest('base64') }
  }
  let value = 0
  const step = a === 'crc32' ? (c: Buffer) => crc32(c, value) : (c: Buffer) => crc32c(c, value)
  return {
    update: (c) => {
      value = step(c)
    },
    digest: () => crcDigest(value),
  }
}

/** The checksum a request announces: its algorithm, and its value now (a header) or at the body's end (a trailer). */
export interface ExpectedChecksum {
  algorithm: ChecksumAlgorithm
  /** undefined: not sent yet (a trailer), read again when the body ends */
  value: () => string | undefined
}

/**
 * What the request says it will prove: an `x-amz-checksum-*` header, or `x-amz-trailer` naming one (its value
 * then comes from the aws-chunked trailer, via `trailer`). None: undefined. CRC64NVME and unknown names: refused.
 */
export function expectedChecksum(get: (h: string) => string, trailer: () => Map<string, string>): ExpectedChecksum | undefined {
  const trailerName = get('x-amz-trailer').trim().toLowerCase()
  if (trailerName !== '') {
    const algorithm = algorithmOf(trailerName)
    return { algorithm, value: () => trailer().get(trailerName) }
  }
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const v = get(checksumHeader(algorithm))
    if (v !== '') return { algorithm, value: () => v }
  }
  if (get('x-amz-checksum-crc64nvme') !== '') throw notImplemented('the CRC64NVME checksum')
  return undefined
}

function algorithmOf(header: string): ChecksumAlgorithm {
  if (header === 'x-amz-checksum-crc64nvme') throw notImplemented('the CRC64NVME checksum')
  const a = CHECKSUM_ALGORITHMS.find((x) => checksumHeader(x) === header)
  if (!a) throw invalidArgument(`x-amz-trailer names ${header}, which is not a checksum this store knows (${CHECKSUM_ALGORITHMS.map(checksumHeader).join(', ')})`)
  return a
}

/** Passes the bytes through and fails at their end when they do not have `expected`'s checksum; `onDigest` learns the value that held. */
export function checksumCheck(expected: ExpectedChecksum, onDigest: (value: string) => void = () => {}): Transform {
  const sum = checksummer(expected.algorithm)
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      sum.update(chunk)
      done(null, chunk)
    },
    flush(done) {
      const mine = sum.digest()
      const want = expected.value()
      if (want === undefined) return done(invalidArgument(`the body ended without the ${checksumHeader(expected.algorithm)} trailer it announced: nothing was stored`))
      if (want !== mine) return done(new BadDigestError(`the ${expected.algorithm.toUpperCase()} you specified did not match the calculated checksum: nothing was stored`))
      onDigest(mine)
      done()
    },
  })
}

/** Passes the bytes through computing their MD5 (the S3 ETag); with `expectedBase64` (Content-MD5), fails at the end when it differs. */
export function md5Tap(expectedBase64?: string): Transform & { hex(): string | undefined } {
  const hash = createHash('md5')
  let hex: string | undefined
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk)
      done(null, chunk)
    },
    flush(done) {
      const digest = hash.digest()
      if (expectedBase64 !== undefined && digest.toString('base64') !== expectedBase64)
        return done(new BadDigestError('the Content-MD5 you specified did not match what we received: nothing was stored'))
      hex = digest.toString('hex')
      done()
    },
  })
  return Object.assign(t, { hex: () => hex })
}
