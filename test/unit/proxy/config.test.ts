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
