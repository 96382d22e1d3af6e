/**
 * `make bench`'s dynamoctl figure: one file of random bytes put with `./dynamoctl put` and read
 * back with `./dynamoctl get`, each timed (MiB/s) with the CLI's peak RSS (VmHWM, sampled from
 * /proc while it runs), and the copy compared with the original by `cmp`. The CLI runs as a user
 * would run it: its own process, the compiled dist/, an access key on its command line.
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Credentials } from '../shared/config/credentials-file.js'
import { ROOT } from './setup.js'

const CLI = join(ROOT, 'dist/dynamoctl-cli/cli.js')
/** How often the CLI's high-water mark is read: VmHWM only grows, so a late read still sees an early peak. */
const SAMPLE_MS = 50

export interface CliRun {
  ok: boolean
  ms: number
  mibPerSec: number
  peakRssMiB: number
  /** What the CLI wrote to stderr when it failed. */
  error?: string
}

export interface DynamoctlRoundTrip {
  bytes: number
  put: CliRun
  get: CliRun
  /** `cmp` found the bytes read back equal to those written. */
  same: boolean
}

function vmHwmBytes(pid: number | undefined): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** The environment without what would point the CLI at another cluster or key. */
function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^(AWS_|DYNAMO_URL$|CLUSTER_SECRET$|PROXY_PORT$|RUN_DIR$)/.test(k)) env[k] = v
  return env
}

function runCli(args: readonly string[], bytes: number): Promise<CliRun> {
  return new Promise((done) => {
    const started = performance.now()
    const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv(), stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    let peak = 0
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d
    })
    const sampler = setInterval(() => {
      peak = Math.max(peak, vmHwmBytes(child.pid))
    }, SAMPLE_MS)
    const finish = (ok: boolean, error?: string) => {
      clearInterval(sampler)
      const ms = performance.now() - started
      const run: CliRun = { ok, ms: Math.round(ms), mibPerSec: Math.round((bytes / 2 ** 20 / (ms / 1000)) * 10) / 10, peakRssMiB: Math.round(peak / 2 ** 20) }
      done(ok ? run : { ...run, error: error ?? stderr.trim() })
    }
    child.on('error', (err) => finish(false, err.message))
    child.on('close', (code) => finish(code === 0))
  })
}

/** A file of `bytes` random bytes, written 1 MiB at a time. */
async function randomFile(path: string, bytes: number): Promise<void> {
  const fh = await open(path, 'w')
  try {
    for (let done = 0; done < bytes; done += 1 << 20) await fh.write(randomBytes(Math.min(1 << 20, bytes - done)))
  } finally {
    await fh.close()
  }
}

/** Put then get one object of `bytes` through dynamoctl; the temp files are removed whatever happens. */
export async function dynamoctlRoundTrip(url: string, creds: Credentials, bucket: string, key: string, bytes: number): Promise<DynamoctlRoundTrip> {
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-bench-ctl-'))
  try {
    const src = join(dir, 'in.bin')
    const out = join(dir, 'out.bin')
    await randomFile(src, bytes)
    const auth = ['--url', url, '--key-id', creds.accessKeyId, '--secret', creds.secretAccessKey]
    const put = await runCli([...auth, 'put', src, `${bucket}/${key}`], bytes)
    const get = put.ok ? await runCli([...auth, 'get', `${bucket}/${key}`, out], bytes) : { ok: false, ms: 0, mibPerSec: 0, peakRssMiB: 0, error: 'not run: the put failed' }
    const same = get.ok && spawnSync('cmp', ['-s', src, out]).status === 0
    return { bytes, put, get, same }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
