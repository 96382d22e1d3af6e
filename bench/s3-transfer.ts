/**
 * S3 and native transfers with the tools people use (docs/s3.md, "What it costs"): against a 4-node
 * cluster started as the scripts start it, one file of --size random bytes (default 1 GiB) goes up
 * with `aws s3 cp` (multipart, awscli's 8 MiB parts), comes down and is compared with `cmp`; up again
 * in one PUT; up and down with `curl --aws-sigv4` on the native API; then `aws s3 sync` of --files
 * files of 4 KiB. Prints MiB/s (files/s for sync) and the proxy's peak RSS over each. Needs awscli
 * and curl (Debian packages); says so and exits when they are missing.
 *
 *   node --import=tsx bench/s3-transfer.ts [--size 1g] [--files 1000]
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { runningPid } from '../cluster-ctl/launcher.js'
import { TestCluster } from '../devtools/test-cluster.js'
import { RssSampler } from './rss-sampler.js'

const MiB = 1024 * 1024

function parseSize(s: string): number {
  const m = /^(\d+)([kmg]?)$/i.exec(s)
  if (!m) throw new Error(`--size ${s}: a number of bytes, or with k, m or g`)
  return Number(m[1]) * { '': 1, k: 1024, m: MiB, g: 1024 * MiB }[(m[2] as string).toLowerCase() as '' | 'k' | 'm' | 'g']
}

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0
/** Debian's awscli 2 before whatever else PATH holds (a pip awscli 1 behaves differently). */
const AWS = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws'

const { values } = parseArgs({ options: { size: { type: 'string', default: '1g' }, files: { type: 'string', default: '1000' } } })
const size = parseSize(values.size as string)
const files = Number(values.files)
const missing = [AWS, 'curl', 'cmp'].find((t) => !has(t))
if (missing) {
  console.log(`s3-transfer: skipped, ${missing} is not installed (Debian: apt-get install awscli curl)`)
  process.exit(0)
}

const cluster = await TestCluster.start(4)
// Interrupted: the cluster's processes are stopped by pid all the same.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cluster.teardown().finally(() => process.exit(130)))
const rows: [string, string, string][] = []
try {
  const c = cluster.credentials
  if (!c) throw new Error('the launcher made no admin key')
  const work = join(cluster.dir, 'bench')
  mkdirSync(join(work, 'small'), { recursive: true })
  const big = join(work, 'big.bin')
  const fd = openSync(big, 'w')
  for (let done = 0; done < size; done += 16 * MiB) writeSync(fd, randomBytes(Math.min(16 * MiB, size - done)))
  closeSync(fd)
  for (let i = 0; i < files; i++) writeFileSync(join(work, 'small', `f${String(i).padStart(5, '0')}`), randomBytes(4096))
  const onePut = join(work, 'one-put.cfg')
  writeFileSync(onePut, '[default]\ns3 =\n  multipart_threshold = 5GB\n')
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: c.accessKeyId,
    AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  }
  const proxyPid = runningPid(cluster.layout, 'proxy')
  if (proxyPid === undefined) throw new Error('no proxy pid')

  const run = (label: string, cmd: string, args: string[], amount: string, per: (s: number) => number, extraEnv: Record<string, string> = {}) => {
    const rss = new RssSampler([{ name: 'proxy', pid: proxyPid }]).start()
    const t0 = process.hrtime.bigint()
    const r = spawnSync(cmd, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 * MiB })
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    const peak = rss.stop().find((p) => p.name === 'proxy')?.peakMiB ?? 0
    if (r.status !== 0) throw new Error(`${label}: ${cmd} exited ${r.status}: ${r.stderr.toString().slice(-500)}`)
    rows.push([label, `${per(seconds).toFixed(1)} ${amount}`, `${peak.toFixed(0)} MiB`])
  }
  const aws = (...args: string[]) => ['--endpoint-url', cluster.s3Url, ...args]
  const mibps = (s: number) => size / MiB / s
  const cmp = (a: string, b: string) => {
    if (spawnSync('cmp', [a, b]).status !== 0) throw new Error(`${b} differs from ${a}`)
  }
  spawnSync(AWS, aws('s3', 'mb', 's3://bench'), { env })
  run(`aws s3 cp up, multipart (8 MiB parts), ${values.size}`, AWS, aws('s3', 'cp', big, 's3://bench/big.bin'), 'MiB/s', mibps)
  run(`aws s3 cp down, ${values.size}`, AWS, aws('s3', 'cp', 's3://bench/big.bin', join(work, 'down.bin')), 'MiB/s', mibps)
  cmp(big, join(work, 'down.bin'))
  rmSync(join(work, 'down.bin'))
  run(`aws s3 cp up, one PUT, ${values.size}`, AWS, aws('s3', 'cp', big, 's3://bench/one.bin'), 'MiB/s', mibps, { AWS_CONFIG_FILE: onePut })
  const sigv4 = ['--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', `${c.accessKeyId}:${c.secretAccessKey}`, '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', '-sSf']
  run(`native curl -T up, ${values.size}`, 'curl', [...sigv4, '-T', big, `${cluster.url}/buckets/bench/files/native.bin`], 'MiB/s', mibps)
  run(`native curl down, ${values.size}`, 'curl', [...sigv4, '-o', join(work, 'down.bin'), `${cluster.url}/buckets/bench/files/native.bin`], 'MiB/s', mibps)
  cmp(big, join(work, 'down.bin'))
  run(`aws s3 sync up, ${files} files of 4 KiB`, AWS, aws('s3', 'sync', join(work, 'small'), 's3://bench/small/'), 'files/s', (s) => files / s)
  console.log(`\ns3-transfer: 4 nodes + proxy on this host, ${values.size} of random bytes, awscli ${spawnSync(AWS, ['--version']).stdout.toString().split(' ')[0]}\n`)
  console.log('| transfer | rate | proxy peak RSS |\n| --- | ---: | ---: |')
  for (const r of rows) console.log(`| ${r.join(' | ')} |`)
} finally {
  await cluster.teardown()
}
