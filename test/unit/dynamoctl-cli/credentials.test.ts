/** Where ./dynamoctl finds its credentials and URL: the order of flags, environment, run/credentials and the cluster secret. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { resolveSigning, resolveUrl } from '../../../dynamoctl-cli/credentials.js'
import { CliError, EXIT } from '../../../dynamoctl-cli/errors.js'

const FILE_KEY = { id: 'DKFILE00000000000000', secret: 'f'.repeat(40) }
const ENV_KEY = { id: 'DKENV000000000000000', secret: 'e'.repeat(40) }
const SECRET = 'a-cluster-secret-of-some-length'

let dir: string
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'dynamoctl-credentials-'))
  writeFileSync(join(dir, 'credentials'), `AWS_ACCESS_KEY_ID=${FILE_KEY.id}\nAWS_SECRET_ACCESS_KEY=${FILE_KEY.secret}\nAWS_REGION=eu-west-1\nDYNAMO_URL=http://127.0.0.1:18080\n`)
  writeFileSync(join(dir, 'cluster.secret'), `${SECRET}\n`)
  writeFileSync(join(dir, 'other.secret'), 'another-cluster-secret-here\n')
})
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

/** An environment whose run/ is `runDir` (default: the test's directory). */
const env = (extra: Record<string, string> = {}, runDir = dir): NodeJS.ProcessEnv => ({ RUN_DIR: runDir, ...extra })

function exitCodeOf(fn: () => unknown): number | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof CliError) return err.exitCode
    throw err
  }
  return undefined
}

test('flags win over everything; one kind of flag at a time', (t) => {
  const fromFlags = resolveSigning({ keyId: ENV_KEY.id, secret: 'x' }, env({ AWS_ACCESS_KEY_ID: FILE_KEY.id, AWS_SECRET_ACCESS_KEY: FILE_KEY.secret }))
  t.like(fromFlags, { kind: 'key', accessKeyId: ENV_KEY.id, secretAccessKey: 'x' })
  t.like(resolveSigning({ secretFile: join(dir, 'other.secret') }, env()), { kind: 'member', secret: 'another-cluster-secret-here' }, '--secret-file beats run/credentials')
  t.like(resolveSigning({ credentials: join(dir, 'credentials') }, env({ AWS_ACCESS_KEY_ID: ENV_KEY.id, AWS_SECRET_ACCESS_KEY: ENV_KEY.secret })), { accessKeyId: FILE_KEY.id, region: 'eu-west-1' })
  t.is(
    exitCodeOf(() => resolveSigning({ keyId: ENV_KEY.id }, env())),
    EXIT.usage,
    '--key-id without --secret',
  )
  t.is(
    exitCodeOf(() => resolveSigning({ keyId: 'AKIAIOSFODNN7EXAMPLE', secret: 'x' }, env())),
    EXIT.usage,
    'not a DK key id',
  )
  t.is(
    exitCodeOf(() => resolveSigning({ keyId: ENV_KEY.id, secret: 'x', secretFile: join(dir, 'cluster.secret') }, env())),
    EXIT.usage,
  )
})

test('then the environment, then run/credentials, then CLUSTER_SECRET, then run/cluster.secret', (t) => {
  t.like(resolveSigning({}, env({ AWS_ACCESS_KEY_ID: ENV_KEY.id, AWS_SECRET_ACCESS_KEY: ENV_KEY.secret, CLUSTER_SECRET: SECRET })), { kind: 'key', accessKeyId: ENV_KEY.id, region: 'us-east-1' })
  t.like(resolveSigning({}, env({ CLUSTER_SECRET: 'another-cluster-secret-here' })), { kind: 'key', accessKeyId: FILE_KEY.id })
  const noFile = mkdtempSync(join(tmpdir(), 'dynamoctl-run-'))
  try {
    t.like(resolveSigning({}, env({ CLUSTER_SECRET: 'another-cluster-secret-here' }, noFile)), { kind: 'member', secret: 'another-cluster-secret-here', source: 'CLUSTER_SECRET' })
    t.is(
      exitCodeOf(() => resolveSigning({}, env({}, noFile))),
      EXIT.unreachable,
      'nothing anywhere: exit 3',
    )
    writeFileSync(join(noFile, 'cluster.secret'), SECRET)
    t.like(resolveSigning({}, env({}, noFile)), { kind: 'member', secret: SECRET })
    writeFileSync(join(noFile, 'cluster.secret'), 'short')
    t.is(
      exitCodeOf(() => resolveSigning({}, env({}, noFile))),
      EXIT.unreachable,
      'a secret too short to be one',
    )
  } finally {
    rmSync(noFile, { recursive: true, force: true })
  }
  t.is(
    exitCodeOf(() => resolveSigning({}, env({ AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'x' }))),
    EXIT.usage,
    'an AWS key in the environment is not silently skipped',
  )
})

test('the URL: --url, DYNAMO_URL, the credentials file, then PROXY_PORT on 127.0.0.1', (t) => {
  t.is(resolveUrl({ url: 'https://store.example.com/' }, env({ DYNAMO_URL: 'http://x:1' })).href, 'https://store.example.com/')
  t.is(resolveUrl({}, env({ DYNAMO_URL: 'http://x:1' })).href, 'http://x:1/')
  t.is(resolveUrl({}, env()).href, 'http://127.0.0.1:18080/')
  const empty = mkdtempSync(join(tmpdir(), 'dynamoctl-run-'))
  try {
    t.is(resolveUrl({}, env({ PROXY_PORT: '18181' }, empty)).href, 'http://127.0.0.1:18181/')
    t.is(resolveUrl({}, env({}, empty)).href, 'http://127.0.0.1:8080/')
  } finally {
    rmSync(empty, { recursive: true, force: true })
  }
  t.is(
    exitCodeOf(() => resolveUrl({ url: 'ftp://x' }, env())),
    EXIT.usage,
  )
  t.is(
    exitCodeOf(() => resolveUrl({ url: 'not a url' }, env())),
    EXIT.usage,
  )
})
