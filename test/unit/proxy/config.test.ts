import test from 'ava'
import { parseCorsOrigins, parseProxyConfig } from '../../../proxy/config.js'

const env = { CLUSTER_SECRET: 'a-test-secret-of-32-characters-x' }

test('CORS is off unless origins are given', (t) => {
  t.deepEqual(parseProxyConfig(['--seeds', '127.0.0.1:9001'], env).corsOrigins, [])
})

test('--cors-origins takes exact origins, comma-separated', (t) => {
  const cfg = parseProxyConfig(['--seeds', '127.0.0.1:9001', '--cors-origins', 'https://app.example.com, http://localhost:3000'], env)
  t.deepEqual(cfg.corsOrigins, ['https://app.example.com', 'http://localhost:3000'])
})

test('wildcards, paths, trailing slashes, other schemes and non-canonical spellings are refused', (t) => {
  for (const bad of ['*', 'https://app.example.com/', 'https://app.example.com/path', 'app.example.com', 'ftp://x.example', 'null', 'https://App.Example.com', 'https://a.example:443']) {
    t.throws(() => parseCorsOrigins(bad), { message: /exact origins/ }, bad)
  }
})

test('S3: no endpoint unless --s3-port; its own port, a domain for virtual hosts, the upload TTL', (t) => {
  const off = parseProxyConfig(['--seeds', '127.0.0.1:9001'], env)
  t.is(off.s3Port, undefined)
  t.is(off.s3UploadTtlMs, 86_400_000)
  const on = parseProxyConfig(['--seeds', '127.0.0.1:9001', '--s3-port', '9000', '--s3-domain', 's3.example.com', '--s3-upload-ttl-ms', '3600000'], env)
  t.is(on.s3Port, 9000)
  t.is(on.s3Domain, 's3.example.com')
  t.is(on.s3UploadTtlMs, 3_600_000)
  t.throws(() => parseProxyConfig(['--seeds', '127.0.0.1:9001', '--port', '9000', '--s3-port', '9000'], env), { message: /must differ/ })
  t.throws(() => parseProxyConfig(['--seeds', '127.0.0.1:9001', '--s3-port', '9000', '--s3-domain', 'http://x/'], env), { message: /host name/ })
})
