import test from 'ava'
import { createProxyRouter, type ProxyAppComponents, type ProxyAppConfig } from '../../../../proxy/app.js'
import { routeNeeds } from '../../../../proxy/access/guarded-router.js'
import { NATIVE_API_SEGMENTS, targetOf } from '../../../../proxy/s3/request.js'
import type { Context } from 'koa'

// The routes only capture their components when mounted: none is called here.
const nativeRoutes = () => routeNeeds(createProxyRouter({ catalog: {} } as unknown as ProxyAppComponents, { kv: {}, corsOrigins: [] } as unknown as ProxyAppConfig))

const s3Request = (url: string) => ({ url, get: (h: string) => (h === 'host' ? '127.0.0.1:9000' : '') }) as unknown as Context

test('every first segment of a native path is refused as an S3 bucket, so a native request cannot be replayed on the S3 endpoint', (t) => {
  const segments = new Set(nativeRoutes().map((r) => r.path.split('/')[1] as string))
  t.true(segments.size >= 5)
  for (const s of segments) {
    t.true(NATIVE_API_SEGMENTS.has(s), `/${s} is a native path: add it to NATIVE_API_SEGMENTS`)
    t.throws(() => targetOf(s3Request(`/${s}/x`), undefined), { message: /bucket/ }, `/${s}/x on the S3 endpoint`)
  }
  t.deepEqual(targetOf(s3Request('/photos/cat.jpg'), undefined), { bucket: 'photos', key: 'cat.jpg' })
})
