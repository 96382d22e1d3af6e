/**
 * S3 multipart upload against real processes (issue 28), driven by @aws-sdk/client-s3: parts stored as
 * they arrive (one retried), ListParts, ListMultipartUploads, UploadPartCopy with a range, Complete
 * (the object reads back whole, with S3's multipart ETag, through both APIs, Range included), and
 * S3's refusals: InvalidPart, InvalidPartOrder, EntityTooSmall, NoSuchUpload after Complete or Abort.
 */
import { createHash, randomBytes } from 'node:crypto'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
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
