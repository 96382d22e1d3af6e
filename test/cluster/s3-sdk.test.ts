/**
 * The S3 endpoint driven by @aws-sdk/client-s3 against real processes (issue 28): buckets, objects,
 * Range and conditional reads, metadata directive on copy, listings V1 and V2 with delimiters and
 * pages, DeleteObjects, the SDK's default flexible checksums (aws-chunked with a CRC32 trailer),
 * refusals (wrong secret, unknown key, read-only key, no key) with S3's codes, and one store under
 * both APIs: what S3 writes the native API reads, and the other way round.
 */
import { randomBytes } from 'node:crypto'
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3'
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'

let cluster: TestCluster
let s3: S3Client

const client = (accessKeyId: string, secretAccessKey: string, extra: Record<string, unknown> = {}) =>
  new S3Client({ endpoint: cluster.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1, ...extra })

test.before(async () => {
  cluster = await TestCluster.start(4)
  const c = cluster.credentials
  if (!c) throw new Error('the launcher made no admin key')
  s3 = client(c.accessKeyId, c.secretAccessKey)
})
test.after.always(async () => {
  s3?.destroy()
  await cluster?.teardown()
})

async function makeKey(name: string, flags: { createBuckets?: boolean } = {}): Promise<{ id: string; secret: string }> {
  const res = await cluster.fetch('/admin/keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, ...flags }) })
  const body = (await res.json()) as { key: { id: string }; secret: string }
  if (res.status !== 201) throw new Error(`key create: ${res.status} ${JSON.stringify(body)}`)
  return { id: body.key.id, secret: body.secret }
}

async function refusal(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await p
  } catch (err) {
    if (err instanceof S3ServiceException) return { name: err.name, status: err.$metadata.httpStatusCode }
    throw err
  }
  throw new Error('the request succeeded')
}

const text = async (o: { Body?: { transformToString(): Promise<string> } | undefined }) => (o.Body ? o.Body.transformToString() : '')
const bytes = async (o: { Body?: { transformToByteArray(): Promise<Uint8Array> } | undefined }) => Buffer.from(o.Body ? await o.Body.transformToByteArray() : [])

test('buckets: create, head, location, list, already owned, delete only when empty', async (t) => {
  await s3.send(new CreateBucketCommand({ Bucket: 's3-buckets' }))
  await s3.send(new HeadBucketCommand({ Bucket: 's3-buckets' }))
  const loc = await s3.send(new GetBucketLocationCommand({ Bucket: 's3-buckets' }))
  t.falsy(loc.LocationConstraint)
  const list = await s3.send(new ListBucketsCommand({}))
  t.true(list.Buckets?.some((b) => b.Name === 's3-buckets'))
  t.is((await refusal(s3.send(new CreateBucketCommand({ Bucket: 's3-buckets' })))).name, 'BucketAlreadyOwnedByYou')
  t.is((await refusal(s3.send(new CreateBucketCommand({ Bucket: 's3-elsewhere', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } })))).name, 'InvalidLocationConstraint')
  await s3.send(new CreateBucketCommand({ Bucket: 's3-here', CreateBucketConfiguration: { LocationConstraint: 'us-east-1' as never } }))
  await s3.send(new HeadBucketCommand({ Bucket: 's3-here' }))
  await s3.send(new PutObjectCommand({ Bucket: 's3-buckets', Key: 'x', Body: 'x' }))
  t.deepEqual(await refusal(s3.send(new DeleteBucketCommand({ Bucket: 's3-buckets' }))), { name: 'BucketNotEmpty', status: 409 })
  await s3.send(new DeleteObjectCommand({ Bucket: 's3-buckets', Key: 'x' }))
  await s3.send(new DeleteBucketCommand({ Bucket: 's3-buckets' }))
  t.is((await refusal(s3.send(new HeadBucketCommand({ Bucket: 's3-buckets' })))).status, 404)
  t.deepEqual(await refusal(s3.send(new GetObjectCommand({ Bucket: 's3-buckets', Key: 'x' }))), { name: 'NoSuchBucket', status: 404 })
})

test('objects: put (small and streamed, with the default checksum), get, head, range, conditionals, delete', async (t) => {
  await s3.send(new CreateBucketCommand({ Bucket: 's3-objects' }))
  const put = await s3.send(new PutObjectCommand({ Bucket: 's3-objects', Key: 'dir/hello.txt', Body: 'hello world', ContentType: 'text/plain' }))
  t.is(put.ETag, '"5eb63bbbe01eeed093cb22bb8f5acdc3"')
  const got = await s3.send(new GetObjectCommand({ Bucket: 's3-objects', Key: 'dir/hello.txt' }))
  t.is(await text(got), 'hello world')
  t.is(got.ContentType, 'text/plain')
  t.is(got.ContentLength, 11)
  const head = await s3.send(new HeadObjectCommand({ Bucket: 's3-objects', Key: 'dir/hello.txt' }))
  t.is(head.ContentLength, 11)
  t.is(head.ETag, put.ETag)
  const range = await s3.send(new GetObjectCommand({ Bucket: 's3-objects', Key: 'dir/hello.txt', Range: 'bytes=6-' }))
  t.is(await text(range), 'world')
  t.is(range.ContentRange, 'bytes 6-10/11')
  t.is((await refusal(s3.send(new GetObjectCommand({ Bucket: 's3-objects', Key: 'dir/hello.txt', Range: 'bytes=50-' })))).name, 'InvalidRange')
  t.is((await refusal(s3.send(new GetObjectCommand({ Bucket: 's3-objects', Key: 'dir/hello.txt', IfMatch: '"0000"' })))).status, 412)
  t.is((await refusal(s3.send(new GetObjectCommand({ Bucket: 's3-objects', Key: 'dir/hello.txt', IfNoneMatch: head.ETag })))).status, 304)
  t.is((await refusal(s3.send(new PutObjectCommand({ Bucket: 's3-objects', Key: 'dir/hello.txt', Body: 'again', IfNoneMatch: '*' })))).status, 412)
  const overridden = await s3.send(new GetObjectCommand({ Bucket: 's3-objects', Key: 'dir/hello.txt', ResponseContentType: 'application/x-test', ResponseContentDisposition: 'attachment' }))
  t.is(overridden.ContentType, 'application/x-test')
  t.is(overridden.ContentDisposition, 'attachment')
  await overridden.Body?.transformToString()

  const big = randomBytes(3 * 1024 * 1024 + 17)
  await s3.send(new PutObjectCommand({ Bucket: 's3-objects', Key: 'big.bin', Body: big }))
  t.true((await bytes(await s3.send(new GetObjectCommand({ Bucket: 's3-objects', Key: 'big.bin' })))).equals(big))
  const mid = await s3.send(new GetObjectCommand({ Bucket: 's3-objects', Key: 'big.bin', Range: 'bytes=1000000-1999999' }))
  t.true((await bytes(mid)).equals(big.subarray(1_000_000, 2_000_000)))

  await s3.send(new DeleteObjectCommand({ Bucket: 's3-objects', Key: 'dir/hello.txt' }))
  await s3.send(new DeleteObjectCommand({ Bucket: 's3-objects', Key: 'dir/hello.txt' }))
  t.deepEqual(await refusal(s3.send(new GetObjectCommand({ Bucket: 's3-objects', Key: 'dir/hello.txt' }))), { name: 'NoSuchKey', status: 404 })
  t.is((await refusal(s3.send(new HeadObjectCommand({ Bucket: 's3-objects', Key: 'dir/hello.txt' })))).status, 404)
})

test('copy: COPY keeps the content type, REPLACE takes the new one; copy-source conditions', async (t) => {
  await s3.send(new CreateBucketCommand({ Bucket: 's3-copy' }))
  await s3.send(new PutObjectCommand({ Bucket: 's3-copy', Key: 'a', Body: 'copy me', ContentType: 'text/x-a' }))
  const kept = await s3.send(new CopyObjectCommand({ Bucket: 's3-copy', Key: 'b', CopySource: 's3-copy/a' }))
  t.is(kept.CopyObjectResult?.ETag, `"${(await s3.send(new HeadObjectCommand({ Bucket: 's3-copy', Key: 'a' }))).ETag?.replaceAll('"', '')}"`)
  const b = await s3.send(new GetObjectCommand({ Bucket: 's3-copy', Key: 'b' }))
  t.is(await text(b), 'copy me')
  t.is(b.ContentType, 'text/x-a')
  await s3.send(new CopyObjectCommand({ Bucket: 's3-copy', Key: 'c', CopySource: '/s3-copy/a', MetadataDirective: 'REPLACE', ContentType: 'text/x-c' }))
  t.is((await s3.send(new HeadObjectCommand({ Bucket: 's3-copy', Key: 'c' }))).ContentType, 'text/x-c')
  t.is((await refusal(s3.send(new CopyObjectCommand({ Bucket: 's3-copy', Key: 'd', CopySource: 's3-copy/a', CopySourceIfMatch: '"nope"' })))).status, 412)
  t.is((await refusal(s3.send(new CopyObjectCommand({ Bucket: 's3-copy', Key: 'a', CopySource: 's3-copy/a' })))).name, 'InvalidRequest')
  t.is((await refusal(s3.send(new CopyObjectCommand({ Bucket: 's3-copy', Key: 'e', CopySource: 's3-copy/missing' })))).name, 'NoSuchKey')
})

test('metadata: x-amz-meta-* and representation headers kept and returned (S3 and native), the verified checksum on request; COPY keeps them, REPLACE replaces them', async (t) => {
  await s3.send(new CreateBucketCommand({ Bucket: 's3-meta' }))
  await s3.send(
    new PutObjectCommand({
      Bucket: 's3-meta',
      Key: 'm.txt',
      Body: 'with metadata',
      ContentType: 'text/plain',
      Metadata: { color: 'blue', 'two-words': 'a b' },
      ContentDisposition: 'attachment; filename="m.txt"',
      CacheControl: 'max-age=60',
      ContentLanguage: 'en',
      ChecksumAlgorithm: 'CRC32C',
    }),
  )
  const head = await s3.send(new HeadObjectCommand({ Bucket: 's3-meta', Key: 'm.txt', ChecksumMode: 'ENABLED' }))
  t.deepEqual(head.Metadata, { color: 'blue', 'two-words': 'a b' })
  t.is(head.ContentDisposition, 'attachment; filename="m.txt"')
  t.is(head.CacheControl, 'max-age=60')
  t.is(head.ContentLanguage, 'en')
  t.truthy(head.ChecksumCRC32C)
  const native = await cluster.fetch('/buckets/s3-meta/files/m.txt', { method: 'HEAD' })
  t.is(native.headers.get('x-amz-meta-color'), 'blue')
  await s3.send(new CopyObjectCommand({ Bucket: 's3-meta', Key: 'copy.txt', CopySource: 's3-meta/m.txt' }))
  t.deepEqual((await s3.send(new HeadObjectCommand({ Bucket: 's3-meta', Key: 'copy.txt' }))).Metadata, { color: 'blue', 'two-words': 'a b' })
  await s3.send(new CopyObjectCommand({ Bucket: 's3-meta', Key: 'replaced.txt', CopySource: 's3-meta/m.txt', MetadataDirective: 'REPLACE', Metadata: { color: 'red' } }))
  const replaced = await s3.send(new HeadObjectCommand({ Bucket: 's3-meta', Key: 'replaced.txt' }))
  t.deepEqual(replaced.Metadata, { color: 'red' })
  t.is(replaced.CacheControl, undefined)
  t.is((await refusal(s3.send(new PutObjectCommand({ Bucket: 's3-meta', Key: 'big-meta', Body: 'x', Metadata: { big: 'x'.repeat(3000) } })))).name, 'MetadataTooLarge')
})

test('listings: V2 with delimiter, pages and start-after; V1 with markers; DeleteObjects', async (t) => {
  await s3.send(new CreateBucketCommand({ Bucket: 's3-list' }))
  const keys = ['a.txt', 'b/1', 'b/2', 'b/3', 'c/x/1', 'd.txt', 'e f+g.txt', 'z']
  for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: 's3-list', Key, Body: Key }))
  const all = await s3.send(new ListObjectsV2Command({ Bucket: 's3-list' }))
  t.deepEqual(
    all.Contents?.map((o) => o.Key),
    keys,
  )
  t.is(all.Contents?.[0]?.Size, 5)
  const dirs = await s3.send(new ListObjectsV2Command({ Bucket: 's3-list', Delimiter: '/' }))
  t.deepEqual(
    dirs.Contents?.map((o) => o.Key),
    ['a.txt', 'd.txt', 'e f+g.txt', 'z'],
  )
  t.deepEqual(
    dirs.CommonPrefixes?.map((p) => p.Prefix),
    ['b/', 'c/'],
  )
  const inB = await s3.send(new ListObjectsV2Command({ Bucket: 's3-list', Prefix: 'b/', Delimiter: '/' }))
  t.deepEqual(
    inB.Contents?.map((o) => o.Key),
    ['b/1', 'b/2', 'b/3'],
  )
  // Pages of 2 with the delimiter: a common prefix counts as one entry and is never repeated.
  const seen: string[] = []
  let token: string | undefined
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: 's3-list', Delimiter: '/', MaxKeys: 2, ContinuationToken: token }))
    seen.push(...(page.Contents ?? []).map((o) => o.Key as string), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix as string))
    token = page.NextContinuationToken
    t.true((page.KeyCount ?? 0) <= 2)
  } while (token)
  t.deepEqual(seen.sort(), ['a.txt', 'b/', 'c/', 'd.txt', 'e f+g.txt', 'z'])
  const after = await s3.send(new ListObjectsV2Command({ Bucket: 's3-list', StartAfter: 'c/x/1' }))
  t.deepEqual(
    after.Contents?.map((o) => o.Key),
    ['d.txt', 'e f+g.txt', 'z'],
  )
  const v1 = await s3.send(new ListObjectsCommand({ Bucket: 's3-list', MaxKeys: 3 }))
  t.true(v1.IsTruncated)
  t.deepEqual(
    v1.Contents?.map((o) => o.Key),
    ['a.txt', 'b/1', 'b/2'],
  )
  const v1next = await s3.send(new ListObjectsCommand({ Bucket: 's3-list', Marker: v1.NextMarker }))
  t.is(v1next.Contents?.[0]?.Key, 'b/3')
  const del = await s3.send(new DeleteObjectsCommand({ Bucket: 's3-list', Delete: { Objects: keys.map((Key) => ({ Key })).concat([{ Key: 'never-there' }]) } }))
  t.is(del.Deleted?.length, keys.length + 1)
  t.is((await s3.send(new ListObjectsV2Command({ Bucket: 's3-list' }))).KeyCount, 0)
})

test('refusals: wrong secret, unknown key, read-only key, no key; nothing stored', async (t) => {
  await s3.send(new CreateBucketCommand({ Bucket: 's3-refuse' }))
  const c = cluster.credentials as { accessKeyId: string; secretAccessKey: string }
  const wrong = client(c.accessKeyId, 'x'.repeat(40))
  t.deepEqual(await refusal(wrong.send(new PutObjectCommand({ Bucket: 's3-refuse', Key: 'w', Body: 'w' }))), { name: 'SignatureDoesNotMatch', status: 403 })
  const unknown = client('DKAAAAAAAAAAAAAAAAAA', 'x'.repeat(40))
  t.deepEqual(await refusal(unknown.send(new ListBucketsCommand({}))), { name: 'InvalidAccessKeyId', status: 403 })
  const reader = await makeKey('s3-reader')
  const grant = await cluster.fetch(`/admin/buckets/s3-refuse/grants/${reader.id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ allow: ['read'], deny: [] }),
  })
  t.is(grant.status, 200)
  const ro = client(reader.id, reader.secret)
  t.deepEqual(await refusal(ro.send(new PutObjectCommand({ Bucket: 's3-refuse', Key: 'ro', Body: 'ro' }))), { name: 'AccessDenied', status: 403 })
  t.deepEqual(await refusal(ro.send(new CreateBucketCommand({ Bucket: 's3-refuse-2' }))), { name: 'AccessDenied', status: 403 })
  t.is((await ro.send(new ListObjectsV2Command({ Bucket: 's3-refuse' }))).KeyCount, 0)
  const anon = await fetch(`${cluster.s3Url}/s3-refuse/anon`, { method: 'PUT', body: 'anon' })
  t.is(anon.status, 403)
  t.regex(await anon.text(), /<Code>AccessDenied<\/Code>/)
  t.is((await fetch(`${cluster.s3Url}/`)).status, 403)
  // On the S3 port the native API's path names are no buckets: a native request replayed there is refused.
  t.is((await fetch(`${cluster.s3Url}/health`)).status, 400)
  const replayed = await fetch(`${cluster.s3Url}/buckets/s3-refuse/files/k`, { method: 'PUT', body: 'x' })
  t.is(replayed.status, 400)
  t.regex(await replayed.text(), /<Code>InvalidBucketName<\/Code>/)
  t.is((await s3.send(new ListObjectsV2Command({ Bucket: 's3-refuse' }))).KeyCount, 0)
  for (const cl of [wrong, unknown, ro]) cl.destroy()
})

test('unsupported operations answer 501 NotImplemented in XML', async (t) => {
  await s3.send(new CreateBucketCommand({ Bucket: 's3-501' }))
  const c = cluster.credentials as { accessKeyId: string; secretAccessKey: string }
  const { signHeaders } = await import('../../shared/sigv4/signer.js')
  for (const path of ['/s3-501?versioning', '/s3-501?acl', '/s3-501?policy', '/s3-501/k?tagging']) {
    const url = new URL(`${cluster.s3Url}${path}`)
    const headers = signHeaders({ accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, region: 'us-east-1', service: 's3' }, { method: 'GET', url, payloadHash: 'UNSIGNED-PAYLOAD' })
    const res = await fetch(url, { headers })
    t.is(res.status, 501, path)
    t.regex(await res.text(), /<Code>NotImplemented<\/Code>/)
  }
})

test('one store: the native API reads what S3 wrote, S3 reads what the native API wrote', async (t) => {
  await s3.send(new CreateBucketCommand({ Bucket: 's3-both' }))
  await s3.send(new PutObjectCommand({ Bucket: 's3-both', Key: 'from-s3.txt', Body: 'written by S3', ContentType: 'text/plain' }))
  const native = await cluster.fetch('/buckets/s3-both/files/from-s3.txt')
  t.is(native.status, 200)
  t.is(await native.text(), 'written by S3')
  t.regex(native.headers.get('content-type') ?? '', /^text\/plain/)
  const put = await cluster.fetch('/buckets/s3-both/files/from-native.bin', { method: 'PUT', body: 'written natively', headers: { 'content-type': 'application/x-native' } })
  t.is(put.status, 201)
  const got = await s3.send(new GetObjectCommand({ Bucket: 's3-both', Key: 'from-native.bin' }))
  t.is(await text(got), 'written natively')
  t.is(got.ContentType, 'application/x-native')
  // A bucket made natively is an S3 bucket, and the other way round.
  t.is((await cluster.fetch('/buckets/native-made', { method: 'POST' })).status, 201)
  await s3.send(new HeadBucketCommand({ Bucket: 'native-made' }))
  const listed = (await (await cluster.fetch('/buckets?limit=1000')).json()) as { buckets: { name: string }[] }
  t.true(listed.buckets.some((b) => b.name === 's3-both'))
})
