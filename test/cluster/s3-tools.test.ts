/**
 * Real S3 tools against the S3 endpoint (issue 28): awscli (`s3 mb`, `s3 sync` up and down with cmp,
 * `s3 ls`, `s3 cp`, `s3 rm`, `s3api`), rclone (`copy` then `check`), s3cmd (put, get, ls, del). Each
 * test skips, saying why, when its tool is missing (.ci/run installs them with apt-get as root).
 * The larger files go up in multipart uploads (each tool's threshold lowered to a few MiB).
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'

const run = promisify(execFile)

let cluster: TestCluster
let work: string
let env: NodeJS.ProcessEnv

/** The first of `candidates` that runs `--version`, or undefined. */
async function tool(candidates: string[]): Promise<string | undefined> {
  for (const c of candidates) {
    try {
      await run(c, ['--version'], { timeout: 30_000 })
      return c
    } catch {}
  }
  return undefined
}

test.before(async () => {
  cluster = await TestCluster.start(3)
  const c = cluster.credentials
  if (!c) throw new Error('the launcher made no admin key')
  work = mkdtempSync(join(tmpdir(), 's3-tools-'))
  const awsConfig = join(work, 'aws-config')
  // Files over 8 MiB go up in 8 MiB parts (awscli's default threshold and part size are 8 MiB too).
  writeFileSync(awsConfig, '[default]\nregion = us-east-1\ns3 =\n  multipart_threshold = 8MB\n  multipart_chunksize = 8MB\n')
  env = {
    PATH: process.env.PATH,
    HOME: work,
    AWS_ACCESS_KEY_ID: c.accessKeyId,
    AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: awsConfig,
    AWS_SHARED_CREDENTIALS_FILE: join(work, 'none'),
    AWS_PAGER: '',
  }
})
test.after.always(async () => {
  await cluster?.teardown()
  if (work) rmSync(work, { recursive: true, force: true })
})

/** A directory of mixed files: many small ones in subfolders, a few larger ones, names with spaces. */
function makeTree(root: string, largeMiB: number): void {
  for (let i = 0; i < 30; i++) {
    const dir = join(root, `d${i % 4}`, i % 3 === 0 ? 'sub dir' : '')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, `f${i}.txt`), randomBytes(1 + ((i * 977) % 9000)))
  }
  writeFileSync(join(root, 'empty'), '')
  for (let i = 0; i < 2; i++) writeFileSync(join(root, `large-${i}.bin`), randomBytes(largeMiB * 1024 * 1024))
}

function files(root: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e)
      if (statSync(p).isDirectory()) walk(p)
      else out.push(relative(root, p))
    }
  }
  walk(root)
  return out.sort()
}

function sameTrees(a: string, b: string): boolean {
  const fa = files(a)
  return JSON.stringify(fa) === JSON.stringify(files(b)) && fa.every((f) => readFileSync(join(a, f)).equals(readFileSync(join(b, f))))
}

test('awscli: mb, sync up and down (cmp), ls, cp with a content type, rm, s3api head-object', async (t) => {
  const aws = await tool(['/usr/bin/aws', 'aws'])
  if (!aws) {
    t.log('skipped: awscli is not installed (apt-get install awscli)')
    t.pass()
    return
  }
  const s3 = (...args: string[]) => run(aws, ['--endpoint-url', cluster.s3Url, ...args], { env, timeout: 300_000, maxBuffer: 16 << 20 })
  const up = join(work, 'aws-up')
  const down = join(work, 'aws-down')
  makeTree(up, 24)
  await s3('s3', 'mb', 's3://aws-tools')
  await s3('s3', 'sync', up, 's3://aws-tools/tree')
  await s3('s3', 'sync', 's3://aws-tools/tree', down)
  t.true(sameTrees(up, down), 'the tree came back byte for byte')
  // A second sync has nothing to do.
  const again = await s3('s3', 'sync', up, 's3://aws-tools/tree')
  t.is(again.stdout.trim(), '')
  const ls = await s3('s3', 'ls', 's3://aws-tools/tree/')
  t.regex(ls.stdout, /PRE d0\//)
  t.regex(ls.stdout, /large-0\.bin/)
  await s3('s3', 'cp', join(up, 'empty'), 's3://aws-tools/typed.json', '--content-type', 'application/json')
  const head = JSON.parse((await s3('s3api', 'head-object', '--bucket', 'aws-tools', '--key', 'typed.json')).stdout) as { ContentType: string; ContentLength: number }
  t.is(head.ContentType, 'application/json')
  t.is(head.ContentLength, 0)
  await s3('s3', 'rm', '--recursive', 's3://aws-tools/tree')
  const left = await s3('s3', 'ls', '--recursive', 's3://aws-tools/')
  t.notRegex(left.stdout, /tree\//)
  t.log(`ran ${aws}`)
})

test('rclone: copy a tree, check it, copy it back', async (t) => {
  const rclone = await tool(['rclone'])
  if (!rclone) {
    t.log('skipped: rclone is not installed (apt-get install rclone)')
    t.pass()
    return
  }
  const c = cluster.credentials as { accessKeyId: string; secretAccessKey: string }
  const renv = {
    ...env,
    RCLONE_CONFIG: join(work, 'rclone.conf'),
    RCLONE_CONFIG_DYN_TYPE: 's3',
    RCLONE_CONFIG_DYN_PROVIDER: 'Other',
    RCLONE_CONFIG_DYN_ENDPOINT: cluster.s3Url,
    RCLONE_CONFIG_DYN_ACCESS_KEY_ID: c.accessKeyId,
    RCLONE_CONFIG_DYN_SECRET_ACCESS_KEY: c.secretAccessKey,
    RCLONE_CONFIG_DYN_REGION: 'us-east-1',
    RCLONE_CONFIG_DYN_FORCE_PATH_STYLE: 'true',
  }
  const rc = (...args: string[]) =>
    run(rclone, [...args, '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', '--retries', '1', '--low-level-retries', '1'], { env: renv, timeout: 300_000, maxBuffer: 16 << 20 })
  const up = join(work, 'rclone-up')
  const down = join(work, 'rclone-down')
  makeTree(up, 8)
  await rc('mkdir', 'dyn:rclone-tools')
  await rc('copy', up, 'dyn:rclone-tools/tree')
  await rc('check', up, 'dyn:rclone-tools/tree')
  await rc('copy', 'dyn:rclone-tools/tree', down)
  t.true(sameTrees(up, down))
  const ls = await rc('lsf', '-R', 'dyn:rclone-tools/tree')
  t.regex(ls.stdout, /d1\/sub dir\//)
})

test('s3cmd: put, ls, get, del', async (t) => {
  const s3cmd = await tool(['s3cmd'])
  if (!s3cmd) {
    t.log('skipped: s3cmd is not installed (apt-get install s3cmd)')
    t.pass()
    return
  }
  const c = cluster.credentials as { accessKeyId: string; secretAccessKey: string }
  const host = new URL(cluster.s3Url).host
  const cfg = join(work, 's3cfg')
  writeFileSync(
    cfg,
    `[default]\naccess_key = ${c.accessKeyId}\nsecret_key = ${c.secretAccessKey}\nhost_base = ${host}\nhost_bucket = ${host}\nuse_https = False\nsignature_v2 = False\nbucket_location = us-east-1\nenable_multipart = True\nmultipart_chunk_size_mb = 5\n`,
  )
  const cmd = (...args: string[]) => run(s3cmd, ['-c', cfg, ...args], { env, timeout: 300_000, maxBuffer: 16 << 20 })
  const file = join(work, 's3cmd-file.bin')
  const back = join(work, 's3cmd-back.bin')
  writeFileSync(file, randomBytes(12_000_000))
  await cmd('mb', 's3://s3cmd-tools')
  await cmd('put', file, 's3://s3cmd-tools/dir/file.bin')
  const ls = await cmd('ls', 's3://s3cmd-tools/dir/')
  t.regex(ls.stdout, /12000000\s+s3:\/\/s3cmd-tools\/dir\/file\.bin/)
  const top = await cmd('ls', 's3://s3cmd-tools/')
  t.regex(top.stdout, /DIR\s+s3:\/\/s3cmd-tools\/dir\//)
  await cmd('get', 's3://s3cmd-tools/dir/file.bin', back)
  t.true(readFileSync(file).equals(readFileSync(back)))
  await cmd('del', 's3://s3cmd-tools/dir/file.bin')
  t.is((await cmd('ls', 's3://s3cmd-tools/dir/')).stdout.trim(), '')
})
