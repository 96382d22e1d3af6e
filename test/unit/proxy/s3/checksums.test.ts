import { Readable, type Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import test from 'ava'
import { checksumCheck, checksummer, crc32c, expectedChecksum, md5Tap } from '../../../../proxy/s3/checksums.js'

const drain = async (body: Buffer, t: Transform) =>
  pipeline(Readable.from([body.subarray(0, 3), body.subarray(3)]), t, async (src: AsyncIterable<Buffer>) => {
    for await (const _ of src);
  })

test('CRC-32C check value and incremental use', (t) => {
  t.is(crc32c(Buffer.from('123456789')), 0xe3069283)
  t.is(crc32c(Buffer.from('56789'), crc32c(Buffer.from('1234'))), 0xe3069283)
})

test('digests are base64 of the big-endian value, as x-amz-checksum-* carries them', (t) => {
  const of = (a: Parameters<typeof checksummer>[0]) => {
    const s = checksummer(a)
    s.update(Buffer.from('hel'))
    s.update(Buffer.from('lo'))
    return s.digest()
  }
  t.is(of('crc32'), 'NhCmhg==')
  t.is(of('crc32c'), Buffer.from('9a71bb4c', 'hex').toString('base64'))
  t.is(of('sha256'), 'LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=')
})

test('a header or a trailer checksum: a match passes, a mismatch fails with BadDigest, a missing trailer fails', async (t) => {
  const header = (v: string) =>
    expectedChecksum(
      (h) => (h === 'x-amz-checksum-crc32' ? v : ''),
      () => new Map(),
    )
  await t.notThrowsAsync(drain(Buffer.from('hello'), checksumCheck(header('NhCmhg==') as never)))
  await t.throwsAsync(drain(Buffer.from('hellO'), checksumCheck(header('NhCmhg==') as never)), { code: 'BadDigest' })
  const trailers = new Map<string, string>()
  const trailer = expectedChecksum(
    (h) => (h === 'x-amz-trailer' ? 'x-amz-checksum-crc32' : ''),
    () => trailers,
  )
  await t.throwsAsync(drain(Buffer.from('hello'), checksumCheck(trailer as never)), { code: 'InvalidArgument' })
  trailers.set('x-amz-checksum-crc32', 'NhCmhg==')
  await t.notThrowsAsync(drain(Buffer.from('hello'), checksumCheck(trailer as never)))
  t.is(
    expectedChecksum(
      () => '',
      () => new Map(),
    ),
    undefined,
  )
  t.throws(
    () =>
      expectedChecksum(
        (h) => (h === 'x-amz-checksum-crc64nvme' ? 'x' : ''),
        () => new Map(),
      ),
    { code: 'NotImplemented' },
  )
})

test('md5Tap: the ETag once the body ended; Content-MD5 checked', async (t) => {
  const tap = md5Tap()
  await drain(Buffer.from('hello world'), tap)
  t.is(tap.hex(), '5eb63bbbe01eeed093cb22bb8f5acdc3')
  await t.throwsAsync(drain(Buffer.from('hello world'), md5Tap(Buffer.alloc(16).toString('base64'))), { code: 'BadDigest' })
})
