/** Stream plumbing for writes: peek at the head of a body, cap its size, and fan it out to several replicas. */
import { PassThrough, type Readable, Transform } from 'node:stream'
import { EntityTooLargeError, InvalidRequestError } from '../../shared/errors.js'

/**
 * Read up to `limit` bytes. `complete` says the body ended within them (then `head` is all of it);
 * otherwise `rest` yields the whole body, head included, still streaming.
 */
export async function peekBody(body: Readable, limit: number): Promise<{ complete: true; head: Buffer } | { complete: false; rest: Readable }> {
  const chunks: Buffer[] = []
  let size = 0
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  for (;;) {
    const { value, done } = await iterator.next()
    if (done) return { complete: true, head: Buffer.concat(chunks) }
    chunks.push(value)
    size += value.length
    if (size > limit) break
  }
  const rest = new PassThrough()
  void (async () => {
    try {
      for (const c of chunks) if (!rest.write(c)) await new Promise((r) => rest.once('drain', r))
      for (;;) {
        const { value, done } = await iterator.next()
        if (done) break
        if (!rest.write(value)) await new Promise((r) => rest.once('drain', r))
      }
      rest.end()
    } catch (err) {
      rest.destroy(err as Error)
    }
  })()
  return { complete: false, rest }
}

/** Read a small body of known length whole (no peeking or size-capping stream in between). */
export async function readWhole(body: Readable, expected: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk)
    size += chunk.length
  }
  if (size !== expected) throw new InvalidRequestError(`body ended after ${size} of ${expected} bytes`)
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)
}

/** Where the bytes of a body are fed as they pass (a hash). */
export interface ByteSink {
  update(chunk: Buffer): unknown
}

/**
 * Fails the stream with 413 once more than `maxBytes` have passed. `hash`, when given, is fed every
 * chunk on the way (the object's MD5: computed in the pass the bytes make anyway, not a second one).
 */
export function capSize(maxBytes: number, hash?: ByteSink): Transform {
  let seen = 0
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length
      if (seen > maxBytes) return cb(new EntityTooLargeError(`object is larger than the limit of ${maxBytes} bytes`))
      hash?.update(chunk)
      cb(null, chunk)
    },
  })
}

/**
 * Copy one stream to `n` branches at the pace of the slowest live one. A branch whose consumer
 * fails is dropped (call `drop(i)`), so one dead replica cannot stall the others; the dropped
 * branch is destroyed, which ends the request that carried it (a replica that refused the body
 * early, e.g. 507, is not left holding a half-sent request until its idle timeout).
 */
export function tee(source: Readable, n: number): { branches: PassThrough[]; drop: (i: number) => void } {
  const branches = Array.from({ length: n }, () => new PassThrough())
  const live = new Set(branches)
  for (const b of branches) source.pipe(b)
  source.once('error', (err) => {
    for (const b of live) b.destroy(err)
  })
  return {
    branches,
    drop: (i: number) => {
      const b = branches[i]
      if (!b || !live.delete(b)) return
      source.unpipe(b)
      b.destroy()
      if (live.size === 0) source.resume()
    },
  }
}
