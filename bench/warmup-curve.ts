/**
 * How long a fresh cluster takes to warm up: consecutive windows of 4 KiB PUTs (unique keys) at one
 * concurrency against a new cluster, each with its ops/s and CPU per PUT (cluster processes, from
 * /proc). This is why `make bench` warms every target before its first scenario (--warmup).
 * Usage: node --import=tsx bench/warmup-curve.ts [--windows N] [--seconds S] [--concurrency C]
 */
import { readCpuSeconds } from './rss-sampler.js'
import { ensureBucket } from './http-client.js'
import { cannon, putRequest, type SmallSpec } from './scenarios.js'
import { startOwnCluster } from './setup.js'

const args = process.argv.slice(2)
const opt = (name: string, dflt: number): number => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : dflt)
const WINDOWS = opt('windows', 7)
const SECONDS = opt('seconds', 4)
const CONCURRENCY = opt('concurrency', 16)
const SIZE = 4096

async function main(): Promise<void> {
  if ([WINDOWS, SECONDS, CONCURRENCY].some((n) => !Number.isInteger(n) || n < 1)) {
    console.error('usage: node --import=tsx bench/warmup-curve.ts [--windows N] [--seconds S] [--concurrency C]')
    process.exitCode = 2
    return
  }
  const cluster = await startOwnCluster()
  try {
    const runId = Date.now().toString(36)
    const spec: SmallSpec = { bucket: `warm-${runId}`, runId, body: Buffer.alloc(SIZE, 0x62), getKey: (i) => `g-${i}` }
    await ensureBucket(cluster.url, spec.bucket)
    const cpu = (): number => cluster.procs.reduce((n, p) => n + (readCpuSeconds(p.pid) ?? 0), 0)
    console.log(`4 KiB PUTs at c${CONCURRENCY} against a fresh cluster, ${SECONDS} s windows`)
    console.log('| window | ops/s | p50 / p99 ms | errors | cluster CPU ms per PUT |')
    console.log('| ---: | ---: | ---: | ---: | ---: |')
    for (let w = 1; w <= WINDOWS; w++) {
      const before = cpu()
      const s = await cannon(cluster.url, CONCURRENCY, SECONDS, SIZE, (i) => putRequest(spec, `w${w}`, i))
      const ms = ((cpu() - before) * 1000) / Math.max(1, s.ops)
      console.log(`| ${w} | ${Math.round(s.opsPerSec)} | ${s.p50Ms.toFixed(1)} / ${s.p99Ms.toFixed(1)} | ${s.errors} | ${ms.toFixed(2)} |`)
    }
  } finally {
    await cluster.stop()
  }
}

void main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
