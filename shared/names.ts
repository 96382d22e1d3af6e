/** Bucket and key validation (SPEC "Names and limits"). A key is never a path: see storage-node/store. */
import { InvalidBucketNameError, InvalidKeyError } from './errors.js'

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/
// Control characters are refused in keys: they break logs, headers and listings.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_RE = /[\u0000-\u001f\u007f]/
export const MAX_KEY_BYTES = 1024

/** Throws InvalidBucketNameError unless `name` follows S3's bucket naming rules. */
export function assertBucketName(name: string): void {
  if (!BUCKET_RE.test(name) || IPV4_RE.test(name) || name.includes('..') || name.includes('.-') || name.includes('-.')) {
    throw new InvalidBucketNameError('bucket names are 3-63 characters of lowercase letters, digits, "-" and ".", start and end with a letter or digit, and are not IP addresses')
  }
}

/** Throws InvalidKeyError unless `key` is 1-1024 bytes of UTF-8 with no control characters. */
export function assertKey(key: string): void {
  const bytes = Buffer.byteLength(key, 'utf8')
  if (bytes < 1 || bytes > MAX_KEY_BYTES) throw new InvalidKeyError(`keys are 1-${MAX_KEY_BYTES} bytes of UTF-8 (got ${bytes})`)
  if (CONTROL_RE.test(key)) throw new InvalidKeyError('keys may not contain NUL or control characters')
  if (!key.isWellFormed()) throw new InvalidKeyError('keys must be valid UTF-8')
}

/** Node ids appear in clocks, logs and file names: keep them short and plain. */
export const NODE_ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/

/** `host:port` as members name each other (seeds, --advertise, gossip): a host name or IPv4 address, a port in 1..65535. */
const MEMBER_ADDRESS_RE = /^([A-Za-z0-9][A-Za-z0-9.-]{0,252}):(\d{1,5})$/

export function isMemberAddress(text: string): boolean {
  const m = MEMBER_ADDRESS_RE.exec(text)
  const port = Number(m?.[2])
  return m !== null && port >= 1 && port <= 65535
}
