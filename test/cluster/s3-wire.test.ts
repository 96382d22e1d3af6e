/**
 * The S3 endpoint's wire forms against real processes (issue 28): aws-chunked uploads with every chunk
 * signed (a tampered chunk, or a trailer checksum that does not match, stores nothing), the SDK's
 * unsigned-trailer stream upload, presigned URLs, virtual-host style (--s3-domain), and siblings
 * made through the native API answered as one deterministic winner with x-amz-meta-dynamo-siblings.
 */
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { Readable } from 'node:stream'
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import { checksummer } from '../../proxy/s3/checksums.js'
import { presignUrl, type SigV4Credentials, signHeaders } from '../../shared/sigv4/signer.js'
import { signedChunkedPut } from '../helpers/aws-chunked-encoder.js'

let cluster: TestCluster
let creds: SigV4Credentials
let s3: S3Client

test.before(async () => {
  cluster = await TestCluster.start(3, { proxyArgs: ['--s3-domain', 's3.localtest'] })
  const c = cluster.credentials
  if (!c) throw new Error('the launcher made no admin key')
  creds = { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, region: 'us-east-1' }
  s3 = new S3Client({ endpoint: cluster.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey }, maxAttempts: 1 })
  const made = await cluster.fetch('/buckets/wire', { method: 'POST' })
  if (made.status !== 201) throw new Error(`bucket: ${made.status}`)
})
test.after.always(async () => {
  s3?.destroy()
  await cluster?.teardown()
})

/** A raw HTTP request (fetch cannot send a Host of our choosing): status, headers and body. */
function raw(url: URL, method: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: body ? { 'content-length': String(body.length), ...headers } : headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function nativeStatus(key: string): Promise<number> {
  return (await cluster.fetch(`/buckets/wire/files/${encodeURIComponent(key)}`, { method: 'HEAD' })).status
}

test('aws-chunked, every chunk signed: stored whole; a tampered chunk refused with nothing stored', async (t) => {
  const url = new URL(`${cluster.s3Url}/wire/chunked.bin`)
  const chunks = [randomBytes(64 * 1024), randomBytes(64 * 1024), randomBytes(1000)]
  const good = signedChunkedPut(creds, url, chunks)
  const put = await raw(url, 'PUT', good.headers, good.body)
  t.is(put.status, 200, put.body)
  const back = await cluster.fetch('/buckets/wire/files/chunked.bin')
  t.true(Buffer.from(await back.arrayBuffer()).equals(Buffer.concat(chunks)))

  const url2 = new URL(`${cluster.s3Url}/wire/tampered.bin`)
  const bad = signedChunkedPut(creds, url2, chunks)
  const at = bad.body.length - 600
  bad.body[at] = (bad.body[at] as number) ^ 0xff
  const refused = await raw(url2, 'PUT', bad.headers, bad.body)
  t.is(refused.status, 403)
  t.regex(refused.body, /<Code>SignatureDoesNotMatch<\/Code>/)
  t.is(await nativeStatus('tampered.bin'), 404)
})

test('aws-chunked with a signed trailer checksum: a match is stored and echoed, a mismatch stores nothing', async (t) => {
  const data = [randomBytes(70_000)]
  const sum = checksummer('crc32c')
  sum.update(data[0] as Buffer)
  const url = new URL(`${cluster.s3Url}/wire/trailer.bin`)
  const good = signedChunkedPut(creds, url, data, { 'x-amz-checksum-crc32c': sum.digest() })
  const put = await raw(url, 'PUT', good.headers, good.body)
  t.is(put.status, 200, put.body)
  t.is(put.headers['x-amz-checksum-crc32c'], sum.digest())
  const url2 = new URL(`${cluster.s3Url}/wire/trailer-bad.bin`)
  const bad = signedChunkedPut(creds, url2, data, { 'x-amz-checksum-crc32c': 'AAAAAA==' })
  const refused = await raw(url2, 'PUT', bad.headers, bad.body)
  t.is(refused.status, 400)
  t.regex(refused.body, /<Code>BadDigest<\/Code>/)
  t.is(await nativeStatus('trailer-bad.bin'), 404)
})

test("the SDK's streamed upload (STREAMING-UNSIGNED-PAYLOAD-TRAILER, CRC32 trailer) and a wrong x-amz-checksum-crc32 header", async (t) => {
  const big = randomBytes(5 * 1024 * 1024 + 3)
  await s3.send(new PutObjectCommand({ Bucket: 'wire', Key: 'sdk-stream.bin', Body: Readable.from([big.subarray(0, 1 << 20), big.subarray(1 << 20)]), ContentLength: big.length }))
  const got = await s3.send(new GetObjectCommand({ Bucket: 'wire', Key: 'sdk-stream.bin' }))
  t.true(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(big))
  const url = new URL(`${cluster.s3Url}/wire/wrong-sum.txt`)
  const body = Buffer.from('some bytes')
  const headers = { 'x-amz-checksum-crc32': 'AAAAAA==', ...signHeaders(creds, { method: 'PUT', url, headers: { 'x-amz-checksum-crc32': 'AAAAAA==' } }) }
  const refused = await raw(url, 'PUT', headers, body)
  t.is(refused.status, 400)
  t.regex(refused.body, /BadDigest/)
  t.is(await nativeStatus('wrong-sum.txt'), 404)
})

test('presigned URLs: GET and PUT with plain HTTP; expired or altered refused', async (t) => {
  const put = presignUrl(creds, { method: 'PUT', url: new URL(`${cluster.s3Url}/wire/presigned.txt`), expiresSeconds: 60 })
  t.is((await fetch(put, { method: 'PUT', body: 'presigned body' })).status, 200)
  const get = presignUrl(creds, { method: 'GET', url: new URL(`${cluster.s3Url}/wire/presigned.txt`), expiresSeconds: 60 })
  const res = await fetch(get)
  t.is(res.status, 200)
  t.is(await res.text(), 'presigned body')
  const other = new URL(get)
  other.pathname = '/wire/chunked.bin'
  t.is((await fetch(other)).status, 403)
  const old = presignUrl(creds, { method: 'GET', url: new URL(`${cluster.s3Url}/wire/presigned.txt`), expiresSeconds: 1 }, new Date(Date.now() - 60_000))
  const expired = await fetch(old)
  t.is(expired.status, 403)
  t.regex(await expired.text(), /AccessDenied/)
})

test('virtual-host style: BUCKET.<--s3-domain> in Host names the bucket', async (t) => {
  const port = new URL(cluster.s3Url).port
  const url = new URL(`http://wire.s3.localtest:${port}/vhost.txt`)
  const target = new URL(`${cluster.s3Url}/vhost.txt`)
  const body = Buffer.from('virtual host')
  const headers = { host: url.host, ...signHeaders(creds, { method: 'PUT', url, payloadHash: 'UNSIGNED-PAYLOAD' }) }
  t.is((await raw(target, 'PUT', headers, body)).status, 200)
  t.is(await (await cluster.fetch('/buckets/wire/files/vhost.txt')).text(), 'virtual host')
  const listHeaders = { host: url.host, ...signHeaders(creds, { method: 'GET', url: new URL(`http://wire.s3.localtest:${port}/?list-type=2&prefix=vhost`) }) }
  const list = await raw(new URL(`${cluster.s3Url}/?list-type=2&prefix=vhost`), 'GET', listHeaders)
  t.is(list.status, 200)
  t.regex(list.body, /<Key>vhost.txt<\/Key>/)
})

test('siblings made through the native API: S3 answers the newest with x-amz-meta-dynamo-siblings; the native API still shows both', async (t) => {
  t.is((await cluster.fetch('/buckets/wire/files/sib.txt', { method: 'PUT', body: 'first' })).status, 201)
  const read = await cluster.fetch('/buckets/wire/files/sib.txt')
  const context = read.headers.get('x-context') as string
  await read.text()
  t.is((await cluster.fetch('/buckets/wire/files/sib.txt', { method: 'PUT', body: 'second', headers: { 'x-context': context } })).status, 201)
  await new Promise((r) => setTimeout(r, 5))
  t.is((await cluster.fetch('/buckets/wire/files/sib.txt', { method: 'PUT', body: 'third!', headers: { 'x-context': context } })).status, 201)
  t.is((await cluster.fetch('/buckets/wire/files/sib.txt')).status, 300)
  const got = await s3.send(new GetObjectCommand({ Bucket: 'wire', Key: 'sib.txt' }))
  t.is(await got.Body?.transformToString(), 'third!')
  t.is(got.Metadata?.['dynamo-siblings'], '2')
  for (let i = 0; i < 3; i++) t.is(await (await s3.send(new GetObjectCommand({ Bucket: 'wire', Key: 'sib.txt' }))).Body?.transformToString(), 'third!')
})
