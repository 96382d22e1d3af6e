/**
 * The values clients write, and the registry that tells a read which write its bytes came from.
 * A small value's bytes are its name (`client-3-op-17`); a large value's bytes are a keystream
 * seeded by its name, generated chunk by chunk (never held whole). Values are identified by the
 * SHA-256 of their bytes, which is also the store's ETag, so a torn or invented object is one
 * whose hash no client produced.
 */
import { createCipheriv, createHash } from 'node:crypto'
import { Readable } from 'node:stream'

export interface ValueInfo {
  name: string
  size: number
  /** Hex SHA-256 of the bytes; for a large value known once its body has been generated to the end. */
  etag?: string | undefined
}

const CHUNK_BYTES = 1024 * 1024

export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export class ValueRegistry {
  private readonly byName = new Map<string, ValueInfo>()
  private readonly byEtag = new Map<string, string>()

  /** A small value: its bytes are its name. */
  small(name: string): { info: ValueInfo; body: Buffer } {
    const body = Buffer.from(name)
    const info = { name, size: body.length, etag: sha256(body) }
    this.add(info)
    return { info, body }
  }

  /** A large value of `size` bytes; the registry learns its etag when the stream has produced every byte. */
  large(name: string, size: number): { info: ValueInfo; body: Readable } {
    const info: ValueInfo = { name, size }
    this.byName.set(name, info)
    const hash = createHash('sha256')
    const key = createHash('sha256').update(name).digest().subarray(0, 16)
    const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
    const zeros = Buffer.alloc(CHUNK_BYTES)
    const register = (i: ValueInfo) => this.add(i)
    function* chunks(): Generator<Buffer> {
      for (let sent = 0; sent < size; sent += CHUNK_BYTES) {
        const chunk = cipher.update(zeros.subarray(0, Math.min(CHUNK_BYTES, size - sent)))
        hash.update(chunk)
        yield chunk
      }
      info.etag = hash.digest('hex')
      register(info)
    }
    return { info, body: Readable.from(chunks(), { objectMode: false }) }
  }

  private add(info: ValueInfo): void {
    this.byName.set(info.name, info)
    if (info.etag) this.byEtag.set(info.etag, info.name)
  }

  /** Name of the value with these bytes, or undefined if no client wrote them. */
  nameOf(etag: string): string | undefined {
    return this.byEtag.get(etag)
  }

  info(name: string): ValueInfo | undefined {
    return this.byName.get(name)
  }

  get size(): number {
    return this.byName.size
  }
}
