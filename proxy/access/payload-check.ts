/** The body of a request signed over its SHA-256 (x-amz-content-sha256) must hash to it: checked as it streams, or whole. */
import { createHash } from 'node:crypto'
import { Transform } from 'node:stream'
import { ContentSha256MismatchError } from '../../shared/errors.js'

const mismatch = () => new ContentSha256MismatchError('the body does not hash to the x-amz-content-sha256 it was signed with: nothing was stored')

/** Passes the bytes through; fails at the end when they hash otherwise than `expectedHex`, so the write they feed is discarded. */
export function sha256Check(expectedHex: string): Transform {
  const hash = createHash('sha256')
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk)
      done(null, chunk)
    },
    flush(done) {
      done(hash.digest('hex') === expectedHex.toLowerCase() ? null : mismatch())
    },
  })
}

/** The same check for a body read whole: throws ContentSha256MismatchError when `buf` hashes otherwise than `expectedHex`. */
export function checkSha256(buf: Buffer, expectedHex: string): void {
  if (createHash('sha256').update(buf).digest('hex') !== expectedHex.toLowerCase()) throw mismatch()
}
