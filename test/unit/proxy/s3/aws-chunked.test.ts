import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import test from 'ava'
import { credentialScope, signingKey } from '../../../../shared/sigv4/canonical.js'
import { AwsChunkedDecoder, type AwsChunkedOptions } from '../../../../proxy/s3/aws-chunked.js'
import { encodeAwsChunked } from '../../../helpers/aws-chunked-encoder.js'

const signer = {
  signingKey: signingKey('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '20130524', 'us-east-1', 's3'),
  amzDate: '20130524T000000Z',
  scope: credentialScope('20130524', 'us-east-1', 's3'),
  seedSignature: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
}

/** Feeds `body` to a decoder in pieces of `piece` bytes (framing split anywhere); resolves to the decoded bytes and trailers. */
async function decode(body: Buffer, opts: AwsChunkedOptions, piece = 7): Promise<{ bytes: Buffer; trailers: Map<string, string> }> {
  const pieces: Buffer[] = []
  for (let i = 0; i < body.length; i += piece) pieces.push(body.subarray(i, i + piece))
  const decoder = new AwsChunkedDecoder(opts)
  const out: Buffer[] = []
  await pipeline(Readable.from(pieces), decoder, async (src: AsyncIterable<Buffer>) => {
    for await (const c of src) out.push(c)
  })
  return { bytes: Buffer.concat(out), trailers: decoder.trailers }
}

test("AWS's documented example: 64 KiB + 1 KiB of 'a', signed chunks, decodes and verifies", async (t) => {
  // The S3 documentation's streaming example (sigv4-streaming): these chunk signatures come out of the seed above.
  const data = [Buffer.alloc(65536, 'a'), Buffer.alloc(1024, 'a')]
  const body = encodeAwsChunked(data, signer)
  t.true(body.toString('latin1').startsWith('10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n'))
  t.true(body.toString('latin1').includes('400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n'))
  t.true(body.toString('latin1').includes('0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n'))
  const { bytes } = await decode(body, { signing: signer, trailer: false, decodedLength: 66560 }, 1000)
  t.true(bytes.equals(Buffer.concat(data)))
})

test('a tampered chunk, a dropped chunk, a wrong seed or a missing signature fail the stream', async (t) => {
  const data = [Buffer.from('hello '), Buffer.from('world')]
  const good = encodeAwsChunked(data, signer)
  const tampered = Buffer.from(good)
  tampered[good.indexOf('hello')] = 'j'.charCodeAt(0)
  await t.throwsAsync(decode(tampered, { signing: signer, trailer: false }), { code: 'SignatureDoesNotMatch' })
  // The first chunk cut out: the second one's signature chains from a signature the decoder never saw.
  const dropped = good.subarray(good.indexOf('hello ') + 'hello \r\n'.length)
  await t.throwsAsync(decode(dropped, { signing: signer, trailer: false }), { code: 'SignatureDoesNotMatch' })
  await t.throwsAsync(decode(good, { signing: { ...signer, seedSignature: 'f'.repeat(64) }, trailer: false }), { code: 'SignatureDoesNotMatch' })
  await t.throwsAsync(decode(encodeAwsChunked(data), { signing: signer, trailer: false }), { code: 'SignatureDoesNotMatch' })
})

test('framing: cut short, extra bytes, a wrong decoded length, a chunk longer than its size', async (t) => {
  const body = encodeAwsChunked([Buffer.from('abcdef')])
  await t.throwsAsync(decode(body.subarray(0, body.length - 3), { trailer: false }), { code: 'IncompleteBody' })
  await t.throwsAsync(decode(Buffer.concat([body, Buffer.from('x')]), { trailer: false }), { code: 'IncompleteBody' })
  await t.throwsAsync(decode(body, { trailer: false, decodedLength: 5 }), { code: 'IncompleteBody' })
  await t.throwsAsync(decode(Buffer.from('3\r\nabcdef\r\n0\r\n\r\n'), { trailer: false }), { code: 'IncompleteBody' })
  await t.throwsAsync(decode(Buffer.from('zz\r\n'), { trailer: false }), { code: 'IncompleteBody' })
  t.is((await decode(body, { trailer: false, decodedLength: 6 }, 1)).bytes.toString(), 'abcdef')
})

test('trailers: unsigned (as @aws-sdk/client-s3 sends them) and signed, whose signature is checked', async (t) => {
  const sdk = Buffer.from('5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n')
  const { bytes, trailers } = await decode(sdk, { trailer: true, decodedLength: 5 }, 3)
  t.is(bytes.toString(), 'hello')
  t.is(trailers.get('x-amz-checksum-crc32'), 'NhCmhg==')
  const signed = encodeAwsChunked([Buffer.from('hello')], signer, { 'x-amz-checksum-crc32': 'NhCmhg==' })
  t.is((await decode(signed, { signing: signer, trailer: true })).trailers.get('x-amz-checksum-crc32'), 'NhCmhg==')
  const forged = Buffer.from(signed.toString('latin1').replace('NhCmhg==', 'AAAAAA=='), 'latin1')
  await t.throwsAsync(decode(forged, { signing: signer, trailer: true }), { code: 'SignatureDoesNotMatch' })
})
