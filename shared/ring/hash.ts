/** The one hash that places keys and virtual nodes on the ring (32-bit positions from MD5, as Dynamo). */
import { createHash } from 'node:crypto'

export function ringPosition(text: string): number {
  return createHash('md5').update(text).digest().readUInt32BE(0)
}

/** Ring position of an object: bucket and key joined by NUL, which neither may contain. */
export function objectPosition(bucket: string, key: string): number {
  return ringPosition(`${bucket}\u0000${key}`)
}
