/**
 * S3 multipart upload against real processes (issue 28), driven by @aws-sdk/client-s3: parts stored as
 * they arrive (one retried), ListParts, ListMultipartUploads, UploadPartCopy with a range, Complete
 * (the object reads back whole, with S3's multipart ETag, through both APIs, Range included), and
 * S3's refusals: InvalidPart, InvalidPartOrder, EntityTooSmall, NoSuchUpload after Complete or Abort.
 * Complete writes a manifest, not the bytes again: what the replicas store for the key is the short
 * list of parts (?explain=1), and ranges across part boundaries, copies, overwrites and a retried
 * Complete read what they should.
 */
import { createHash, randomBytes } from 'node:crypto'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3'
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import { type ExplainAnswer, ExplainAnswerSchema } from '../../shared/wire/explain.js'

let cluster: TestCluster
let s3: S3Client
const MiB = 1024 * 1024
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex')

test.before(async () => {
  cluster = await TestCluster.start(3)
  const c = cluster.credentials
  if (!c) throw new Error('the launcher made no admin key')
  s3 = new S3Client({ endpoint: cluster.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey }, maxAttempts: 1 })
  await s3.send(new CreateBucketCommand({ Bucket: 'multi' }))
})
test.after.always(async () => {
  s3?.destroy()
  await cluster?.teardown()
})

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    if (err instanceof S3ServiceException) return err.name
    throw err
  }
  throw new Error('the request succeeded')
}

test('create, parts (one retried), list, copy a range as a part, complete; reads back whole through both APIs', async (t) => {
  const source = randomBytes(6 * MiB)
  await s3.send(new PutObjectCommand({ Bucket: 'multi', Key: 'source.bin', Body: source }))
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'multi', Key: 'big.bin', ContentType: 'application/x-big', Metadata: { origin: 'multipart' } }))
  t.truthy(UploadId)
  const p1 = randomBytes(5 * MiB)
  await s3.send(new UploadPartCommand({ Bucket: 'multi', Key: 'big.bin', UploadId, PartNumber: 1, Body: randomBytes(5 * MiB) }))
  const e1 = await s3.send(new UploadPartCommand({ Bucket: 'multi', Key: 'big.bin', UploadId, PartNumber: 1, Body: p1 }))
  t.is(e1.ETag, `"${md5(p1)}"`)
  const copied = await s3.send(new UploadPartCopyCommand({ Bucket: 'multi', Key: 'big.bin', UploadId, PartNumber: 2, CopySource: 'multi/source.bin', CopySourceRange: `bytes=0-${5 * MiB - 1}` }))
  t.is(copied.CopyPartResult?.ETag, `"${md5(source.subarray(0, 5 * MiB))}"`)
  const p3 = randomBytes(1234)
  const e3 = await s3.send(new UploadPartCommand({ Bucket: 'multi', Key: 'big.bin', UploadId, PartNumber: 3, Body: p3 }))
  const parts = await s3.send(new ListPartsCommand({ Bucket: 'multi', Key: 'big.bin', UploadId }))
  t.deepEqual(
    parts.Parts?.map((p) => [p.PartNumber, p.Size]),
    [
      [1, 5 * MiB],
      [2, 5 * MiB],
      [3, 1234],
    ],
  )
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'multi' }))
  t.true(uploads.Uploads?.some((u) => u.UploadId === UploadId && u.Key === 'big.bin'))
  const done = await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: 'multi',
      Key: 'big.bin',
      UploadId,
      MultipartUpload: {
        Parts: [
          { PartNumber: 1, ETag: e1.ETag },
          { PartNumber: 2, ETag: copied.CopyPartResult?.ETag },
          { PartNumber: 3, ETag: e3.ETag },
        ],
      },
    }),
  )
  const whole = Buffer.concat([p1, source.subarray(0, 5 * MiB), p3])
  const partsMd5 = createHash('md5')
  for (const p of [p1, source.subarray(0, 5 * MiB), p3]) partsMd5.update(createHash('md5').update(p).digest())
  t.is(done.ETag, `"${partsMd5.digest('hex')}-3"`)
  const got = await s3.send(new GetObjectCommand({ Bucket: 'multi', Key: 'big.bin' }))
  t.is(got.ContentType, 'application/x-big')
  t.is(got.ETag, done.ETag)
  t.deepEqual(got.Metadata, { origin: 'multipart' })
  t.true(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(whole))
  const range = await s3.send(new GetObjectCommand({ Bucket: 'multi', Key: 'big.bin', Range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}` }))
  t.true(Buffer.from((await range.Body?.transformToByteArray()) ?? []).equals(whole.subarray(5 * MiB - 10, 5 * MiB + 10)))
  const native = await cluster.fetch('/buckets/multi/files/big.bin')
  t.true(Buffer.from(await native.arrayBuffer()).equals(whole))
  t.is(await refusal(s3.send(new ListPartsCommand({ Bucket: 'multi', Key: 'big.bin', UploadId }))), 'NoSuchUpload')
  t.false((await s3.send(new ListMultipartUploadsCommand({ Bucket: 'multi' }))).Uploads?.some((u) => u.UploadId === UploadId) ?? false)
})

test('Complete refuses a wrong ETag, parts out of order, a small part but the last; Abort ends the upload', async (t) => {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'multi', Key: 'refused.bin' }))
  const small = await s3.send(new UploadPartCommand({ Bucket: 'multi', Key: 'refused.bin', UploadId, PartNumber: 1, Body: randomBytes(1000) }))
  const last = await s3.send(new UploadPartCommand({ Bucket: 'multi', Key: 'refused.bin', UploadId, PartNumber: 2, Body: randomBytes(1000) }))
  const complete = (Parts: { PartNumber: number; ETag: string | undefined }[]) =>
    s3.send(new CompleteMultipartUploadCommand({ Bucket: 'multi', Key: 'refused.bin', UploadId, MultipartUpload: { Parts } }))
  t.is(await refusal(complete([{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }])), 'InvalidPart')
  t.is(
    await refusal(
      complete([
        { PartNumber: 2, ETag: last.ETag },
        { PartNumber: 1, ETag: small.ETag },
      ]),
    ),
    'InvalidPartOrder',
  )
  t.is(
    await refusal(
      complete([
        { PartNumber: 1, ETag: small.ETag },
        { PartNumber: 2, ETag: last.ETag },
      ]),
    ),
    'EntityTooSmall',
  )
  await s3.send(new AbortMultipartUploadCommand({ Bucket: 'multi', Key: 'refused.bin', UploadId }))
  t.is(await refusal(s3.send(new UploadPartCommand({ Bucket: 'multi', Key: 'refused.bin', UploadId, PartNumber: 3, Body: 'x' }))), 'NoSuchUpload')
  t.is(await refusal(s3.send(new GetObjectCommand({ Bucket: 'multi', Key: 'refused.bin' }))), 'NoSuchKey')
  t.is(await refusal(s3.send(new ListPartsCommand({ Bucket: 'multi', Key: 'other-key', UploadId: 'AAAAAAAAAAAAAAAAAAAAAAAA' }))), 'NoSuchUpload')
})

async function explain(path: string): Promise<ExplainAnswer> {
  const res = await cluster.fetch(`${path}?explain=1`)
  if (res.status !== 200) throw new Error(`explain ${path}: ${res.status} ${await res.text()}`)
  return ExplainAnswerSchema.parse(await res.json())
}

async function bytesOf(key: string, range?: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: 'multi', Key: key, Range: range }))
  return Buffer.from((await got.Body?.transformToByteArray()) ?? [])
}

test('Complete stores a manifest, not the bytes again: ranges across parts, HEAD, listing, a copy, a retried Complete and an overwrite', async (t) => {
  const bodies = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(777)]
  const whole = Buffer.concat(bodies)
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'multi', Key: 'manifest.bin' }))
  const etags: (string | undefined)[] = []
  for (const [i, Body] of bodies.entries()) etags.push((await s3.send(new UploadPartCommand({ Bucket: 'multi', Key: 'manifest.bin', UploadId, PartNumber: i + 1, Body }))).ETag)
  const complete = () =>
    s3.send(new CompleteMultipartUploadCommand({ Bucket: 'multi', Key: 'manifest.bin', UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) } }))
  const done = await complete()
  t.regex(done.ETag ?? '', /^"[0-9a-f]{32}-3"$/)
  // A retried Complete (its first answer lost) answers the same success.
  t.is((await complete()).ETag, done.ETag)

  // Every replica stores the list of parts, a few hundred bytes, not the 10 MiB.
  const e = await explain('/buckets/multi/files/manifest.bin')
  const held = e.probes.flatMap((p) => p.versions.filter((v) => v.survives && !v.tombstone))
  t.true(held.length >= 2)
  for (const v of held) {
    t.true(v.size < 4096, `a replica stores ${v.size} bytes for the key`)
    t.deepEqual(v.manifest, { parts: 3, bytes: whole.length })
  }

  t.true((await bytesOf('manifest.bin')).equals(whole))
  for (const [start, end] of [
    [0, 0],
    [5 * MiB - 3, 5 * MiB + 2],
    [5 * MiB - 1, 10 * MiB + 5],
    [10 * MiB, whole.length - 1],
    [123, 10 * MiB + 100],
  ] as const) {
    t.true((await bytesOf('manifest.bin', `bytes=${start}-${end}`)).equals(whole.subarray(start, end + 1)), `bytes ${start}-${end}`)
  }
  const suffix = await cluster.fetch('/buckets/multi/files/manifest.bin', { headers: { Range: 'bytes=-1000' } })
  t.is(suffix.status, 206)
  t.is(suffix.headers.get('content-range'), `bytes ${whole.length - 1000}-${whole.length - 1}/${whole.length}`)
  t.true(Buffer.from(await suffix.arrayBuffer()).equals(whole.subarray(whole.length - 1000)))
  const head = await cluster.fetch('/buckets/multi/files/manifest.bin', { method: 'HEAD' })
  t.is(head.headers.get('content-length'), String(whole.length))
  t.is(head.headers.get('etag'), done.ETag ?? null)
  const listed = (await (await cluster.fetch('/buckets/multi/files?prefix=manifest')).json()) as { files: { key: string; size: number }[] }
  t.deepEqual(
    listed.files.map((f) => [f.key, f.size]),
    [['manifest.bin', whole.length]],
  )

  // GetObject and HeadObject by part number: that part's bytes, with the count of parts.
  const second = await s3.send(new GetObjectCommand({ Bucket: 'multi', Key: 'manifest.bin', PartNumber: 2 }))
  t.is(second.PartsCount, 3)
  t.is(second.ContentRange, `bytes ${5 * MiB}-${10 * MiB - 1}/${whole.length}`)
  t.true(Buffer.from((await second.Body?.transformToByteArray()) ?? []).equals(bodies[1] as Buffer))
  const headPart = await s3.send(new HeadObjectCommand({ Bucket: 'multi', Key: 'manifest.bin', PartNumber: 3 }))
  t.is(headPart.ContentLength, 777)
  t.is(headPart.PartsCount, 3)
  t.is(await refusal(s3.send(new GetObjectCommand({ Bucket: 'multi', Key: 'manifest.bin', PartNumber: 4 }))), 'InvalidPartNumber')
  t.is(await refusal(s3.send(new GetObjectCommand({ Bucket: 'multi', Key: 'manifest.bin', PartNumber: 1, Range: 'bytes=0-1' }))), 'InvalidRequest')

  // A copy is an ordinary object of the same bytes (its own MD5), and the source stays readable.
  const copy = await s3.send(new CopyObjectCommand({ Bucket: 'multi', Key: 'manifest-copy.bin', CopySource: 'multi/manifest.bin' }))
  t.is(copy.CopyObjectResult?.ETag, `"${md5(whole)}"`)
  t.true((await bytesOf('manifest-copy.bin')).equals(whole))
  // Part 1 of an object that is not multipart is all of it; there is no part 2.
  t.is((await s3.send(new HeadObjectCommand({ Bucket: 'multi', Key: 'manifest-copy.bin', PartNumber: 1 }))).ContentLength, whole.length)
  t.is(await refusal(s3.send(new GetObjectCommand({ Bucket: 'multi', Key: 'manifest-copy.bin', PartNumber: 2 }))), 'InvalidPartNumber')
  const copied = await explain('/buckets/multi/files/manifest-copy.bin')
  t.true(copied.probes.some((p) => p.versions.some((v) => v.survives && v.size === whole.length && v.manifest === undefined)))

  // Overwritten: the new bytes read back; the parts are the collector's to free later (unit-tested).
  await s3.send(new PutObjectCommand({ Bucket: 'multi', Key: 'manifest.bin', Body: 'replaced' }))
  t.is((await bytesOf('manifest.bin')).toString(), 'replaced')
  t.is(await refusal(s3.send(new AbortMultipartUploadCommand({ Bucket: 'multi', Key: 'manifest.bin', UploadId }))), 'NoSuchUpload')
  t.is(await refusal(complete()), 'NoSuchUpload')
})
