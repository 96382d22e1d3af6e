/**
 * ./dynamoctl against a real cluster: the built CLI (dist/dynamoctl-cli/cli.js) run as a process, as
 * a user runs it. A key made with the cluster secret, listed without its secret, granted and denied a
 * bucket (and what that key may then do), rotated, deleted; a presigned URL; the exit codes of a refusal, a usage error and an
 * unreachable proxy; --help on every command.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { freePorts, TestCluster } from '../../devtools/test-cluster.js'
import { type Run, runDynamoctl } from '../helpers/run-dynamoctl.js'

const BUCKET = 'dctl-photos'
/** A revoke or a grant reaches every proxy within this (SPEC, issue 27); one proxy here, so it is an upper bound. */
const PROPAGATION_MS = 5000

interface Key {
  id: string
  secret: string
}

let cluster: TestCluster
/** A directory with no credentials and no cluster secret: RUN_DIR of runs that must find none. */
let emptyRunDir: string
let admin: Key

test.before(async () => {
  cluster = await TestCluster.start(3)
  emptyRunDir = mkdtempSync(join(tmpdir(), 'dynamoctl-empty-'))
})
test.after.always(async () => {
  await cluster?.teardown()
  if (emptyRunDir) rmSync(emptyRunDir, { recursive: true, force: true })
})

function dynamoctl(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return runDynamoctl(args, cluster.layout.runDir, env, 30_000)
}

/** Flags that sign as a cluster member with the cluster secret the launcher keeps in run/. */
const asMember = () => ['--url', cluster.url, '--secret-file', join(cluster.layout.runDir, 'cluster.secret')]
const asKey = (k: Key) => ['--url', cluster.url, '--key-id', k.id, '--secret', k.secret]

/** The key printed by `key create` / `key rotate`: exactly two lines, sourceable. */
function parseCreated(t: { regex(s: string, r: RegExp): void }, run: Run): Key {
  t.regex(run.stdout, /^AWS_ACCESS_KEY_ID=DK[A-Z0-9]{18}\nAWS_SECRET_ACCESS_KEY=[A-Za-z0-9+/]{40}\n$/)
  const [, id, secret] = /^AWS_ACCESS_KEY_ID=(\S+)\nAWS_SECRET_ACCESS_KEY=(\S+)\n$/.exec(run.stdout) ?? []
  return { id: id as string, secret: secret as string }
}

function basic(k: Key): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${k.id}:${k.secret}`).toString('base64')}` }
}

async function createKey(name: string, extra: string[] = []): Promise<Key> {
  const run = await dynamoctl([...asKey(admin), 'key', 'create', name, ...extra])
  if (run.code !== 0) throw new Error(`key create ${name}: ${run.code} ${run.stderr}`)
  const [, id, secret] = /^AWS_ACCESS_KEY_ID=(\S+)\nAWS_SECRET_ACCESS_KEY=(\S+)\n$/.exec(run.stdout) ?? []
  return { id: id as string, secret: secret as string }
}

/** Retries `check` until it passes or `ms` elapse (grants reach proxies within PROPAGATION_MS). */
async function within<T>(ms: number, check: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v !== undefined || Date.now() > deadline) return v
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function statusOf(path: string, k: Key, init: RequestInit = {}): Promise<{ status: number; code?: string }> {
  const res = await fetch(`${cluster.url}${path}`, { ...init, headers: { ...basic(k), ...(init.headers as Record<string, string> | undefined) } })
  const text = await res.text()
  let code: string | undefined
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code
  } catch {}
  return { status: res.status, ...(code ? { code } : {}) }
}

/** Waits until `path` answers `status` for key `k`; the last answer. */
function eventuallyStatus(path: string, k: Key, status: number, init: RequestInit = {}) {
  return within(PROPAGATION_MS, async () => {
    const got = await statusOf(path, k, init)
    return got.status === status ? got : undefined
  }).then(async (got) => got ?? statusOf(path, k, init))
}

test.serial('key create with the cluster secret prints exactly the key, and a hint on stderr', async (t) => {
  const run = await dynamoctl([...asMember(), 'key', 'create', 'ci-admin', '--admin'])
  t.is(run.code, 0, run.stderr)
  admin = parseCreated(t, run)
  t.regex(run.stderr, /shown only now/)
  t.false(run.stderr.includes(admin.secret), 'the hint does not repeat the secret')
  // The new admin key works on the API at once.
  t.is((await statusOf('/buckets', admin)).status, 200)
})

test.serial('key list shows the keys and never a secret; --json too', async (t) => {
  const reader = await createKey('ci-reader')
  const human = await dynamoctl([...asKey(admin), 'key', 'list'])
  t.is(human.code, 0, human.stderr)
  t.regex(human.stdout, /^ID\s+NAME\s+ADMIN/)
  t.true(human.stdout.includes(admin.id) && human.stdout.includes('ci-admin') && human.stdout.includes(reader.id))
  const json = await dynamoctl([...asKey(admin), '--json', 'key', 'list'])
  t.is(json.code, 0, json.stderr)
  const keys = (JSON.parse(json.stdout) as { keys: { id: string; name: string; admin: boolean }[] }).keys
  t.like(
    keys.find((k) => k.id === reader.id),
    { name: 'ci-reader', admin: false },
  )
  for (const out of [human.stdout, json.stdout]) {
    t.false(out.includes(admin.secret) || out.includes(reader.secret), 'no secret is ever listed')
    t.false(/secret/i.test(out))
  }
})

test.serial('bucket allow --read lets a key read and not write; info shows the grant; deny (no flag) takes it all away', async (t) => {
  t.is((await statusOf(`/buckets/${BUCKET}`, admin, { method: 'POST' })).status, 201)
  t.is((await statusOf(`/buckets/${BUCKET}/files/cat.jpg`, admin, { method: 'PUT', body: 'a cat' })).status, 201)
  const reader = await createKey('ci-reader-2')
  t.is((await statusOf(`/buckets/${BUCKET}/files/cat.jpg`, reader)).code, 'AccessDenied', 'no grant yet')

  const allow = await dynamoctl([...asKey(admin), 'bucket', 'allow', BUCKET, '--key', reader.id, '--read'])
  t.is(allow.code, 0, allow.stderr)
  t.is(allow.stdout, `${reader.id} on bucket ${BUCKET}: read\n`)
  t.is((await eventuallyStatus(`/buckets/${BUCKET}/files/cat.jpg`, reader, 200)).status, 200, 'a read-only key reads')
  t.like(await statusOf(`/buckets/${BUCKET}/files/dog.jpg`, reader, { method: 'PUT', body: 'a dog' }), { status: 403, code: 'AccessDenied' })
  t.is((await statusOf(`/buckets/${BUCKET}/files/dog.jpg`, admin)).status, 404, 'nothing stored by the refused write')

  const info = await dynamoctl([...asKey(admin), '--json', 'bucket', 'info', BUCKET])
  t.is(info.code, 0, info.stderr)
  const answer = JSON.parse(info.stdout) as { bucket: string; owner: string | null; public: boolean; grants: { key: string; read: boolean; write: boolean; owner: boolean }[] }
  t.is(answer.bucket, BUCKET)
  t.is(answer.public, false)
  t.is(answer.owner, admin.id, 'the creating key owns the bucket')
  t.deepEqual(
    answer.grants.find((g) => g.key === reader.id),
    { key: reader.id, read: true, write: false, owner: false },
  )
  const human = await dynamoctl([...asKey(admin), 'bucket', 'info', BUCKET])
  t.is(human.code, 0, human.stderr)
  t.regex(human.stdout, new RegExp(`${reader.id}\\s+read\\n`))

  const deny = await dynamoctl([...asKey(admin), 'bucket', 'deny', BUCKET, '--key', reader.id])
  t.is(deny.code, 0, deny.stderr)
  t.is(deny.stdout, `${reader.id} on bucket ${BUCKET}: -\n`)
  t.like(await eventuallyStatus(`/buckets/${BUCKET}/files/cat.jpg`, reader, 403), { status: 403, code: 'AccessDenied' })
})

test.serial('a key that may not manage keys is refused: exit 1 with the cluster code', async (t) => {
  const plain = await createKey('ci-plain')
  const run = await dynamoctl([...asKey(plain), 'key', 'list'])
  t.is(run.code, 1)
  t.regex(run.stderr, /AccessDenied/)
  const wrong = await dynamoctl([...asKey({ id: plain.id, secret: 'x'.repeat(40) }), 'key', 'list'])
  t.is(wrong.code, 1)
  t.regex(wrong.stderr, /SignatureDoesNotMatch/)
  const json = await dynamoctl([...asKey(plain), '--json', 'key', 'list'])
  t.is(json.code, 1)
  t.like(JSON.parse(json.stderr), { success: false, error: { code: 'AccessDenied' } })
})

test.serial('key delete: the key is gone from the list and refused', async (t) => {
  const doomed = await createKey('ci-doomed')
  t.is((await statusOf('/buckets', doomed)).status, 200)
  const run = await dynamoctl([...asKey(admin), 'key', 'delete', doomed.id])
  t.is(run.code, 0, run.stderr)
  t.is(run.stdout, `deleted ${doomed.id}\n`)
  const list = await dynamoctl([...asKey(admin), 'key', 'list'])
  t.false(list.stdout.includes(doomed.id))
  t.like(await eventuallyStatus('/buckets', doomed, 403), { status: 403, code: 'InvalidAccessKeyId' })
  const again = await dynamoctl([...asKey(admin), 'key', 'delete', doomed.id])
  t.is(again.code, 1, 'deleting a deleted key is refused')
})

test.serial('key rotate: a new secret for the same id; the old one is refused', async (t) => {
  const key = await createKey('ci-rotated')
  const run = await dynamoctl([...asKey(admin), 'key', 'rotate', key.id])
  t.is(run.code, 0, run.stderr)
  const rotated = parseCreated(t, run)
  t.is(rotated.id, key.id)
  t.not(rotated.secret, key.secret)
  t.is((await eventuallyStatus('/buckets', rotated, 200)).status, 200)
  t.like(await eventuallyStatus('/buckets', key, 403), { status: 403, code: 'SignatureDoesNotMatch' })
})

test.serial('presign: a URL that plain fetch may GET, for that object only, until it expires; none from the cluster secret', async (t) => {
  const run = await dynamoctl([...asKey(admin), 'presign', BUCKET, 'cat.jpg', '--expires', '60'])
  t.is(run.code, 0, run.stderr)
  const url = run.stdout.trim()
  t.regex(url, /X-Amz-Signature=[0-9a-f]{64}$/)
  const res = await fetch(url)
  t.is(res.status, 200)
  t.is(await res.text(), 'a cat')
  const other = await fetch(url.replace('/cat.jpg?', '/dog.jpg?'))
  await other.arrayBuffer()
  t.is(other.status, 403, 'the signature covers the object')
  const short = await dynamoctl([...asKey(admin), 'presign', BUCKET, 'cat.jpg', '--expires', '1'])
  await new Promise((r) => setTimeout(r, 2100))
  const expired = await fetch(short.stdout.trim())
  t.like(await expired.json(), { error: { code: 'AccessDenied' } })
  t.is(expired.status, 403)
  const member = await dynamoctl([...asMember(), 'presign', BUCKET, 'cat.jpg'])
  t.is(member.code, 3, 'the cluster secret signs no client request')
  t.is((await dynamoctl([...asKey(admin), 'presign', BUCKET, 'cat.jpg', '--expires', '0'])).code, 2)
})

test.serial('with no flags, run/credentials (written by the launcher) is the key and its DYNAMO_URL the proxy', async (t) => {
  const run = await dynamoctl(['key', 'list'])
  t.is(run.code, 0, run.stderr)
  t.true(run.stdout.includes(admin.id))
})

test.serial('exit 2 for a usage error, nothing sent', async (t) => {
  for (const args of [
    [],
    ['key'],
    ['key', 'frobnicate'],
    ['key', 'create'],
    ['key', 'delete', 'not-a-key-id'],
    ['bucket', 'allow', BUCKET, '--key', admin.id],
    ['bucket', 'allow', 'Bad_Name', '--key', admin.id, '--read'],
    ['bucket', 'public', BUCKET, 'maybe'],
    ['--key-id', admin.id, 'key', 'list'],
    ['--secret-file', '/dev/null', '--key-id', admin.id, '--secret', admin.secret, 'key', 'list'],
    ['--url', 'ftp://example.com', 'key', 'list'],
  ]) {
    const run = await dynamoctl([...args])
    t.is(run.code, 2, `${args.join(' ')}: ${run.stderr}`)
    t.is(run.stdout, '', `${args.join(' ')} prints nothing on stdout`)
  }
})

test.serial('exit 3 when the proxy cannot be reached or no credentials are found', async (t) => {
  const [closed] = await freePorts(1)
  const unreachable = await dynamoctl([...asKey(admin).slice(2), '--url', `http://127.0.0.1:${closed}`, 'key', 'list'])
  t.is(unreachable.code, 3, unreachable.stderr)
  t.regex(unreachable.stderr, /cannot reach/)
  const none = await dynamoctl(['--url', cluster.url, 'key', 'list'], { RUN_DIR: emptyRunDir })
  t.is(none.code, 3, none.stderr)
  t.regex(none.stderr, /no credentials/)
})

test.serial('--help on every command exits 0', async (t) => {
  for (const path of [
    [],
    ['key'],
    ['key', 'create'],
    ['key', 'list'],
    ['key', 'delete'],
    ['key', 'rotate'],
    ['bucket', 'allow'],
    ['bucket', 'deny'],
    ['bucket', 'public'],
    ['bucket', 'info'],
    ['kv', 'allow'],
    ['kv', 'deny'],
    ['kv', 'info'],
  ]) {
    const run = await dynamoctl([...path, '--help'])
    t.is(run.code, 0, path.join(' '))
    t.regex(run.stdout, /^Usage: dynamoctl/)
  }
  t.regex((await dynamoctl(['--help'])).stdout, /Exit codes: 0 done/)
})
