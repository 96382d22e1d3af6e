/**
 * ./dynamoctl put/get/ls/rm/explain against a real cluster, run as a process (dist/dynamoctl-cli/cli.js):
 * a 128 MiB round trip compared byte for byte with flat peak RSS, a get killed mid-way and resumed
 * (and one whose object changed meanwhile, which starts over), paged listing, rm, siblings (exit 4),
 * explain of that key, a read-only key refused a put (exit 1) and an explain.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import { ExplainAnswerSchema } from '../../shared/wire/explain.js'

const CLI = resolve(import.meta.dirname, '../../dist/dynamoctl-cli/cli.js')
const BUCKET = 'dctl-transfer'
const BIG_BYTES = 128 * 1024 * 1024
/** Peak RSS of the CLI moving 128 MiB: its modules alone take ~70 MiB (`--help`), so one that held the file whole would pass 198. */
const PEAK_RSS_MAX_BYTES = 160 * 1024 * 1024
/**
 * Flat: moving 16 times the bytes of a small transfer may cost at most this much more peak RSS, far below the 120 MiB
 * more a buffered copy needs. Measured: ~80 MiB for 8 MiB (the heap not yet at its working size), ~107 for 128 MiB and the same for 512.
 */
const PEAK_RSS_GROWTH_MAX_BYTES = 48 * 1024 * 1024
const SMALL_BYTES = 8 * 1024 * 1024
/** A grant reaches every proxy within this (SPEC, issue 27). */
const PROPAGATION_MS = 5000

interface Run {
  code: number | null
  stdout: string
  stderr: string
  /** Highest VmHWM read from /proc while it ran (bytes). */
  peakRss: number
  ms: number
}
interface Key {
  id: string
  secret: string
}

let cluster: TestCluster
let dir: string
let admin: Key

test.before(async () => {
  cluster = await TestCluster.start(3)
  dir = mkdtempSync(join(tmpdir(), 'dynamoctl-transfer-'))
  const creds = cluster.credentials
  if (!creds) throw new Error('the test cluster has no admin key')
  admin = { id: creds.accessKeyId, secret: creds.secretAccessKey }
  const res = await cluster.fetch(`/buckets/${BUCKET}`, { method: 'POST' })
  if (res.status !== 201) throw new Error(`create bucket: ${res.status} ${await res.text()}`)
})
test.after.always(async () => {
  await cluster?.teardown()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

function cleanEnv(): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^(AWS_|DYNAMO_URL$|CLUSTER_SECRET$|PROXY_PORT$|RUN_DIR$)/.test(k)) out[k] = v
  return { ...out, RUN_DIR: cluster.layout.runDir }
}

const asKey = (k: Key) => ['--url', cluster.url, '--key-id', k.id, '--secret', k.secret]

function vmHwm(pid: number | undefined): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** Runs the CLI; `onStart` gets the child (to kill it). stdout is kept only up to 1 MiB (a get to stdout is checked by size). */
function dynamoctl(args: readonly string[], onStart?: (child: ChildProcess) => void): Promise<Run> {
  return new Promise((done, fail) => {
    const started = Date.now()
    const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let peakRss = 0
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < 1 << 20) stdout += d
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d
    })
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, vmHwm(child.pid))
    }, 20)
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('error', fail)
    child.on('exit', () => {
      clearInterval(sampler)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      done({ code, stdout, stderr, peakRss, ms: Date.now() - started })
    })
    onStart?.(child)
  })
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  if (statSync(a).size !== statSync(b).size) return false
  const [fa, fb] = [await open(a), await open(b)]
  try {
    const [ba, bb] = [Buffer.alloc(1 << 20), Buffer.alloc(1 << 20)]
    for (let pos = 0; ; pos += ba.length) {
      const [ra, rb] = [await fa.read(ba, 0, ba.length, pos), await fb.read(bb, 0, bb.length, pos)]
      if (ra.bytesRead !== rb.bytesRead || !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false
      if (ra.bytesRead === 0) return true
    }
  } finally {
    await fa.close()
    await fb.close()
  }
}

/** A file of `bytes` random bytes, written 1 MiB at a time. */
async function randomFile(name: string, bytes: number): Promise<string> {
  const path = join(dir, name)
  const fh = await open(path, 'w')
  for (let done = 0; done < bytes; done += 1 << 20) await fh.write(randomBytes(Math.min(1 << 20, bytes - done)))
  await fh.close()
  return path
}

let big: string

test.serial('put then get of 128 MiB: the same bytes, and the CLI peak RSS stays flat', async (t) => {
  // The same round trip of 8 MiB first: what the CLI's peak RSS is when the size does not matter.
  const eight = await randomFile('eight.bin', SMALL_BYTES)
  const putSmall = await dynamoctl([...asKey(admin), 'put', eight, `${BUCKET}/big/eight.bin`])
  t.is(putSmall.code, 0, putSmall.stderr)
  const getSmall = await dynamoctl([...asKey(admin), 'get', `${BUCKET}/big/eight.bin`, join(dir, 'eight.out')])
  t.is(getSmall.code, 0, getSmall.stderr)
  t.true(await sameBytes(eight, join(dir, 'eight.out')))
  big = await randomFile('big.bin', BIG_BYTES)
  const put = await dynamoctl([...asKey(admin), 'put', big, `${BUCKET}/big/one.bin`])
  t.is(put.code, 0, put.stderr)
  t.regex(put.stdout, new RegExp(`^${BUCKET}/big/one.bin: ${BIG_BYTES} bytes from .*, etag [0-9a-f]{32}, `))
  t.is(put.stderr, '', 'no progress bar when not on a terminal')
  const out = join(dir, 'big.out')
  const get = await dynamoctl([...asKey(admin), 'get', `${BUCKET}/big/one.bin`, out])
  t.is(get.code, 0, get.stderr)
  t.true(await sameBytes(big, out), 'the bytes read back are the bytes written')
  t.false(existsSync(join(dir, '.big.out.dynamoctl-resume')), 'no resume record is left once whole')
  const rss = (r: Run) => `${(r.peakRss / 1048576).toFixed(0)} MiB`
  t.log(`128 MiB put ${put.ms} ms, peak RSS ${rss(put)} (8 MiB: ${rss(putSmall)}); get ${get.ms} ms, peak RSS ${rss(get)} (8 MiB: ${rss(getSmall)})`)
  for (const [what, large, small] of [
    ['put', put, putSmall],
    ['get', get, getSmall],
  ] as const) {
    t.true(large.peakRss > 0 && large.peakRss < PEAK_RSS_MAX_BYTES, `${what} peak RSS ${rss(large)}`)
    t.true(large.peakRss - small.peakRss < PEAK_RSS_GROWTH_MAX_BYTES, `${what} peak RSS ${rss(large)} for 128 MiB, ${rss(small)} for 8 MiB`)
  }
  // To stdout: the bytes, nothing else.
  const small = await randomFile('small.bin', 1000)
  t.is((await dynamoctl([...asKey(admin), 'put', small, `${BUCKET}/small.bin`])).code, 0)
  const cat = await dynamoctl([...asKey(admin), 'get', `${BUCKET}/small.bin`])
  t.is(cat.code, 0, cat.stderr)
  t.true(Buffer.from(cat.stdout, 'latin1').length > 0)
})

/** Starts a get into `out` and SIGKILLs it once `out` holds at least `atBytes`; the bytes it left. */
async function killedGet(source: string, out: string, atBytes: number): Promise<number> {
  const run = await dynamoctl([...asKey(admin), 'get', source, out], (child) => {
    const poll = setInterval(() => {
      if (existsSync(out) && statSync(out).size >= atBytes) {
        clearInterval(poll)
        child.kill('SIGKILL')
      }
    }, 2)
    child.on('exit', () => clearInterval(poll))
  })
  if (run.code === 0) throw new Error('the get finished before it was killed')
  return statSync(out).size
}

test.serial('a get killed mid-way resumes with Range where it stopped', async (t) => {
  const out = join(dir, 'resumed.out')
  const left = await killedGet(`${BUCKET}/big/one.bin`, out, 8 << 20)
  t.true(left > 0 && left < BIG_BYTES, `killed with ${left} bytes written`)
  t.true(existsSync(join(dir, '.resumed.out.dynamoctl-resume')))
  const again = await dynamoctl([...asKey(admin), 'get', `${BUCKET}/big/one.bin`, out])
  t.is(again.code, 0, again.stderr)
  t.regex(again.stderr, /resuming .* at \d+ bytes/)
  t.regex(again.stdout, /\(resumed at \d+\)/)
  t.true(await sameBytes(big, out))
})

test.serial('a resumed get whose object changed meanwhile (412) starts over', async (t) => {
  const out = join(dir, 'changed.out')
  const left = await killedGet(`${BUCKET}/big/one.bin`, out, 8 << 20)
  t.true(left < BIG_BYTES)
  const other = await randomFile('other.bin', 3 << 20)
  t.is((await dynamoctl([...asKey(admin), 'put', other, `${BUCKET}/big/one.bin`])).code, 0)
  const again = await dynamoctl([...asKey(admin), 'get', `${BUCKET}/big/one.bin`, out])
  t.is(again.code, 0, again.stderr)
  t.regex(again.stderr, /changed since .* \(HTTP 412\)/)
  t.true(await sameBytes(other, out))
})

test.serial('ls lists every file over several pages, under a prefix; --json one per line', async (t) => {
  const f = join(dir, 'tiny.txt')
  writeFileSync(f, 'tiny')
  const keys = ['ls/a', 'ls/b', 'ls/c/d', 'ls/e', 'ls/f']
  for (const k of keys) t.is((await dynamoctl([...asKey(admin), 'put', f, `${BUCKET}/${k}`])).code, 0)
  const run = await dynamoctl([...asKey(admin), 'ls', `${BUCKET}/ls/`, '--page-size', '2'])
  t.is(run.code, 0, run.stderr)
  const lines = run.stdout.trimEnd().split('\n')
  t.regex(lines[0] ?? '', /SIZE\s+LAST MODIFIED\s+SIBLINGS\s+KEY/)
  t.deepEqual(
    lines.slice(1).map((l) => l.split(/\s+/).pop()),
    keys,
  )
  const json = await dynamoctl([...asKey(admin), '--json', 'ls', BUCKET, '--page-size', '1'])
  t.is(json.code, 0, json.stderr)
  const listed = json.stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { key: string; size: number })
  t.true(keys.every((k) => listed.some((e) => e.key === k && e.size === 4)))
  t.true(listed.some((e) => e.key === 'big/one.bin'))
})

test.serial('rm deletes; a second rm and a get of it exit 1', async (t) => {
  const run = await dynamoctl([...asKey(admin), 'rm', `${BUCKET}/ls/e`])
  t.is(run.code, 0, run.stderr)
  t.is(run.stdout, `deleted ${BUCKET}/ls/e\n`)
  const again = await dynamoctl([...asKey(admin), 'rm', `${BUCKET}/ls/e`])
  t.is(again.code, 1)
  t.regex(again.stderr, /NoSuchKey \(HTTP 404\)/)
  t.is((await dynamoctl([...asKey(admin), 'get', `${BUCKET}/ls/e`, join(dir, 'gone')])).code, 1)
  t.false((await dynamoctl([...asKey(admin), 'ls', `${BUCKET}/ls/`])).stdout.includes('ls/e'))
})

test.serial('get of a key with siblings exits 4 and lists them on stderr; --version fetches one', async (t) => {
  const key = 'conflict.txt'
  t.is((await cluster.fetch(`/buckets/${BUCKET}/files/${key}`, { method: 'PUT', body: 'first' })).status, 201)
  const read = await cluster.fetch(`/buckets/${BUCKET}/files/${key}`)
  await read.text()
  const context = read.headers.get('x-context') ?? ''
  for (const body of ['left', 'right']) t.is((await cluster.fetch(`/buckets/${BUCKET}/files/${key}`, { method: 'PUT', body, headers: { 'x-context': context } })).status, 201)
  const out = join(dir, 'conflict.out')
  const run = await dynamoctl([...asKey(admin), 'get', `${BUCKET}/${key}`, out])
  t.is(run.code, 4, run.stderr)
  t.is(run.stdout, '')
  t.regex(run.stderr, /2 concurrent versions/)
  t.false(existsSync(out), 'nothing written')
  const version = /^(\S+)\s+\d+\s+[0-9a-f]{32}/m.exec(run.stderr.split('\n').slice(2).join('\n'))?.[1]
  t.truthy(version, run.stderr)
  const one = await dynamoctl([...asKey(admin), 'get', `${BUCKET}/${key}`, out, '--version', version as string])
  t.is(one.code, 0, one.stderr)
  t.true(['left', 'right'].includes(readFileSync(out, 'utf8')))
})

test.serial('explain shows the siblings on every primary and the 300 a GET answers; --json is the schema', async (t) => {
  const run = await dynamoctl([...asKey(admin), 'explain', `${BUCKET}/conflict.txt`])
  t.is(run.code, 0, run.stderr)
  t.log(run.stdout)
  t.regex(run.stdout, new RegExp(`^${BUCKET}/conflict.txt  N=3  preference list: \\S+ \\S+ \\S+\na GET answers: 300 Multiple Choices, 2 siblings`))
  t.is((run.stdout.match(/ primary #\d/g) ?? []).length, 3)
  t.is((run.stdout.match(/ survives\n/g) ?? []).length, 6, 'both siblings on each of the three primaries')
  const json = await dynamoctl([...asKey(admin), '--json', 'explain', `${BUCKET}/conflict.txt`])
  t.is(json.code, 0, json.stderr)
  const answer = ExplainAnswerSchema.parse(JSON.parse(json.stdout))
  t.like(answer.read, { status: 300, siblings: 2 })
})

test.serial('on a terminal (script(1) gives it one) put and get draw a bar with speed and ETA', async (t) => {
  if (!existsSync('/usr/bin/script')) {
    t.pass('skipped: no /usr/bin/script (util-linux) to run the CLI on a pseudo-terminal')
    return
  }
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`
  for (const args of [
    ['put', join(dir, 'eight.bin'), `${BUCKET}/tty.bin`],
    ['get', `${BUCKET}/tty.bin`, join(dir, 'tty.out')],
  ]) {
    const line = [process.execPath, CLI, ...asKey(admin), ...args].map(quote).join(' ')
    const run = await new Promise<{ code: number | null; out: string }>((done) => {
      const child = spawn('/usr/bin/script', ['-qfec', line, '/dev/null'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d
      })
      child.on('close', (code) => done({ code, out }))
    })
    t.is(run.code, 0, run.out)
    t.regex(run.out, /100% \| 8\.0 MiB\/8\.0 MiB \| [\d.]+ MiB\/s \| ETA/, `${args[0]}: ${run.out}`)
  }
  t.true(await sameBytes(join(dir, 'eight.bin'), join(dir, 'tty.out')))
})

test.serial('a read-only key is refused a put: exit 1 with AccessDenied, nothing stored', async (t) => {
  const made = await dynamoctl([...asKey(admin), 'key', 'create', 'transfer-reader'])
  t.is(made.code, 0, made.stderr)
  const [, id, secret] = /^AWS_ACCESS_KEY_ID=(\S+)\nAWS_SECRET_ACCESS_KEY=(\S+)\n$/.exec(made.stdout) ?? []
  const reader = { id: id as string, secret: secret as string }
  t.is((await dynamoctl([...asKey(admin), 'bucket', 'allow', BUCKET, '--key', reader.id, '--read'])).code, 0)
  const f = join(dir, 'tiny.txt')
  const deadline = Date.now() + PROPAGATION_MS
  let got = await dynamoctl([...asKey(reader), 'get', `${BUCKET}/ls/a`, join(dir, 'reader.out')])
  while (got.code !== 0 && Date.now() < deadline) got = await dynamoctl([...asKey(reader), 'get', `${BUCKET}/ls/a`, join(dir, 'reader.out')])
  t.is(got.code, 0, `the read-only key reads: ${got.stderr}`)
  const put = await dynamoctl([...asKey(reader), 'put', f, `${BUCKET}/refused.txt`])
  t.is(put.code, 1)
  t.regex(put.stderr, /AccessDenied \(HTTP 403\)/)
  t.is((await cluster.fetch(`/buckets/${BUCKET}/files/refused.txt`)).status, 404)
  t.is((await dynamoctl([...asKey(admin), 'put', join(dir, 'no-such-file'), `${BUCKET}/x`])).code, 2, 'a missing file is a usage error')
  const member = await dynamoctl(['--url', cluster.url, '--secret-file', join(cluster.layout.runDir, 'cluster.secret'), 'ls', BUCKET])
  t.is(member.code, 3, 'the cluster secret moves no data')
})

test.serial('--help on every transfer command exits 0; a malformed bucket/key exits 2 with nothing sent', async (t) => {
  for (const cmd of ['put', 'get', 'ls', 'rm', 'explain']) {
    const run = await dynamoctl([cmd, '--help'])
    t.is(run.code, 0, cmd)
    t.regex(run.stdout, new RegExp(`^Usage: dynamoctl ${cmd}`))
  }
  t.regex((await dynamoctl(['--help'])).stdout, /4 get: the key has siblings/)
  for (const args of [
    ['get', 'no-key'],
    ['get', `${BUCKET}/`],
    ['rm', 'Bad_Bucket/k'],
    ['ls', 'Bad_Bucket'],
    ['put', join(dir, 'tiny.txt'), 'nokey'],
  ]) {
    const run = await dynamoctl([...asKey(admin), ...args])
    t.is(run.code, 2, `${args.join(' ')}: ${run.stderr}`)
    t.is(run.stdout, '')
  }
})
