// The body check of a request signed over its SHA-256: the stream passes matching bytes through and fails on others.
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import test from 'ava'
import { checkSha256, sha256Check } from '../../../proxy/access/payload-check.js'
import { ContentSha256MismatchError } from '../../../shared/errors.js'
import { sha256Hex } from '../../../shared/sigv4/canonical.js'

const BODY = Buffer.from('the quick brown fox '.repeat(5000))

async function through(chunks: Buffer[], expectedHex: string): Promise<Buffer> {
  const out: Buffer[] = []
  await pipeline(
    Readable.from(chunks),
    sha256Check(expectedHex),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        out.push(chunk)
        done()
      },
    }),
  )
  return Buffer.concat(out)
}

test('sha256Check passes a matching body through unchanged, in chunks, whatever the hex case', async (t) => {
  const chunks = [BODY.subarray(0, 7), BODY.subarray(7, 65_000), BODY.subarray(65_000)]
  t.deepEqual(await through(chunks, sha256Hex(BODY)), BODY)
  t.deepEqual(await through(chunks, sha256Hex(BODY).toUpperCase()), BODY)
  t.deepEqual(await through([], sha256Hex('')), Buffer.alloc(0))
})

test('sha256Check fails at the end of a body that hashes otherwise', async (t) => {
  const changed = Buffer.from(BODY)
  changed[12_345] = 0x21
  await t.throwsAsync(through([changed], sha256Hex(BODY)), { instanceOf: ContentSha256MismatchError })
  await t.throwsAsync(through([BODY.subarray(1)], sha256Hex(BODY)), { instanceOf: ContentSha256MismatchError })
})

test('checkSha256 for a body read whole', (t) => {
  t.notThrows(() => checkSha256(BODY, sha256Hex(BODY)))
  t.throws(() => checkSha256(Buffer.concat([BODY, Buffer.from('x')]), sha256Hex(BODY)), { instanceOf: ContentSha256MismatchError })
})
