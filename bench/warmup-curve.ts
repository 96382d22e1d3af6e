/**
 * How long a fresh cluster takes to warm up: consecutive windows of 4 KiB PUTs (unique keys) at one
 * concurrency against a new cluster, each with its ops/s and CPU per PUT (cluster processes, from
 * /proc). This is why `make bench` warms every target before its first scenario (--warmup).
 */
import { parseCommandLineOrExit, parseIntArg, scriptCommand } from '../devtools/command-line.js'
import { ensureBucket } from './http-client.js'
import { Owned } from './owned.js'
import { cannon, putRequest, uniquePutSpec } from './scenarios.js'
import { cpuSecondsOf } from './rss-sampler.js'
import { startOwnCluster } from './setup.js'

const cli = scriptCommand('bench/warmup-curve.ts', 'Consecutive windows of 4 KiB PUTs against a fresh cluster: ops/s and CPU per PUT as it warms up')
  .option('--windows <n>', 'windows measured', parseIntArg(1, 1000), 7)
  .option('--seconds <s>', 'length of a window', parseIntArg(1, 3600), 4)
  .option('--concurrency <c>', 'connections', parseIntArg(1, 10_000), 16)
const SIZE = 4096

async function main(): Promise<void> {
  const { windows, seconds, concurrency } = parseCommandLineOrExit(cli).opts<{ windows: number; seconds: number; concurrency: number }>()
  const owned = new Owned()
  try {
    const cluster = await owned.start(() => startOwnCluster())
    const spec = uniquePutSpec('warm', SIZE)
    await ensureBucket(cluster.url, spec.bucket)
    const cpu = (): number => cpuSecondsOf(cluster.procs)
    console.log(`4 KiB PUTs at c${concurrency} against a fresh cluster, ${seconds} s windows`)
    console.log('| window | ops/s | p50 / p99 ms | errors | cluster CPU ms per PUT |')
    console.log('| ---: | ---: | ---: | ---: | ---: |')
    for (let w = 1; w <= windows; w++) {
      const before = cpu()
      const s = await cannon(cluster.url, concurrency, seconds, SIZE, (i) => putRequest(spec, `w${w}`, i))
      const ms = ((cpu() - before) * 1000) / Math.max(1, s.ops)
      console.log(`| ${w} | ${Math.round(s.opsPerSec)} | ${s.p50Ms.toFixed(1)} / ${s.p99Ms.toFixed(1)} | ${s.errors} | ${ms.toFixed(2)} |`)
    }
  } finally {
    await owned.stopAll()
  }
}

void main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
