import test from 'ava'
import type { Context } from 'koa'
import { S3_OPERATIONS, s3OperationOf } from '../../../../proxy/s3/operation.js'

/** Just what s3OperationOf reads of a Koa context. */
function request(method: string, url: string, headers: Record<string, string> = {}): Context {
  const q = url.indexOf('?')
  const query = Object.fromEntries(new URLSearchParams(q < 0 ? '' : url.slice(q + 1)))
  const lower = Object.fromEntries(Object.entries({ host: 'localhost:9000', ...headers }).map(([k, v]) => [k.toLowerCase(), v]))
  return { method, url, query, get: (name: string) => lower[name.toLowerCase()] ?? '' } as unknown as Context
}

test('each operation the router serves is named as S3 names it', (t) => {
  const cases: [string, string, string, Record<string, string>?][] = [
    ['GET', '/', 'ListBuckets'],
    ['PUT', '/bkt', 'CreateBucket'],
    ['DELETE', '/bkt', 'DeleteBucket'],
    ['HEAD', '/bkt', 'HeadBucket'],
    ['GET', '/bkt', 'ListObjects'],
    ['GET', '/bkt?list-type=2&prefix=a', 'ListObjectsV2'],
    ['GET', '/bkt?location', 'GetBucketLocation'],
    ['GET', '/bkt?uploads', 'ListMultipartUploads'],
    ['POST', '/bkt?delete', 'DeleteObjects'],
    ['GET', '/bkt/a/b.txt', 'GetObject'],
    ['GET', '/bkt/k?partNumber=2', 'GetObject'],
    ['HEAD', '/bkt/k?versionId=null', 'HeadObject'],
    ['PUT', '/bkt/k', 'PutObject'],
    ['PUT', '/bkt/k', 'CopyObject', { 'x-amz-copy-source': '/bkt/j' }],
    ['DELETE', '/bkt/k', 'DeleteObject'],
    ['POST', '/bkt/k?uploads', 'CreateMultipartUpload'],
    ['PUT', '/bkt/k?partNumber=1&uploadId=u', 'UploadPart'],
    ['PUT', '/bkt/k?partNumber=1&uploadId=u', 'UploadPartCopy', { 'x-amz-copy-source': '/bkt/j' }],
    ['POST', '/bkt/k?uploadId=u', 'CompleteMultipartUpload'],
    ['DELETE', '/bkt/k?uploadId=u', 'AbortMultipartUpload'],
    ['GET', '/bkt/k?uploadId=u', 'ListParts'],
    ['GET', '/k', 'GetObject', { host: 'bkt.s3.example' }],
  ]
  for (const [method, url, op, headers] of cases) t.is<string, string>(s3OperationOf(request(method, url, headers), 's3.example'), op, `${method} ${url}`)
})

test('anything else is NotImplemented or InvalidName: the label values stay a closed set', (t) => {
  for (const [method, url] of [
    ['POST', '/'],
    ['GET', '/bkt?acl'],
    ['PUT', '/bkt/k?tagging'],
    ['PATCH', '/bkt/k'],
  ] as const) {
    t.is(s3OperationOf(request(method, url), undefined), 'NotImplemented', `${method} ${url}`)
  }
  t.is(s3OperationOf(request('GET', '/Not_A_Bucket/k'), undefined), 'InvalidName')
  for (const url of ['/', '/bkt', '/bkt/k', '/bkt?acl']) t.true((S3_OPERATIONS as readonly string[]).includes(s3OperationOf(request('GET', url), undefined)))
})
