/** Received bytes waiting to be parsed: chunks in arrival order, read from the front without copying where they allow. */
export class ByteQueue {
  private chunks: Buffer[] = []
  private size = 0

  get length(): number {
    return this.size
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.size += chunk.length
  }

  /** The big-endian u32 at the front (needs 4 bytes buffered). */
  peekUInt32(): number {
    const first = this.chunks[0] as Buffer
    return first.length >= 4 ? first.readUInt32BE(0) : Buffer.concat(this.chunks, Math.min(this.size, 4)).readUInt32BE(0)
  }

  /** Consume exactly n bytes (one copy only when they span chunks). */
  take(n: number): Buffer {
    const first = this.chunks[0] as Buffer
    let out: Buffer
    if (first.length >= n) {
      out = first.subarray(0, n)
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
    } else {
      out = Buffer.allocUnsafe(n)
      let at = 0
      while (at < n) {
        const c = this.chunks[0] as Buffer
        const want = n - at
        if (c.length <= want) {
          c.copy(out, at)
          at += c.length
          this.chunks.shift()
        } else {
          c.copy(out, at, 0, want)
          this.chunks[0] = c.subarray(want)
          at += want
        }
      }
    }
    this.size -= n
    return out
  }
}
