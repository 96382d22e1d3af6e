/**
 * What fsync before acknowledging costs: 4 KiB PUTs (unique keys) and 1 MiB PUTs against a cluster
 * whose nodes run `--durability fsync` (the default) and one with `--durability none`, in one run,
 * with the same load. Usage: node --import=tsx bench/durability-cost.ts [--seconds S] [--concurrency C]
 */
import { randomBytes } from 'node:crypto'
import autocannon from 'autocannon'
import { parseCommandLineOrExit, parseIntArg, scriptCommand } from '../devtools/command-line.js'
import { authedFetch } from './client-auth.js'
import { signed } from './scenarios.js'
import { startOwnCluster } from './setup.js'

const { seconds: SECONDS, concurrency: CONCURRENCY } = parseCommandLineOrExit(
  scriptCommand('bench/durability-cost.ts', 'What fsync before acknowledging costs: 4 KiB and 1 MiB PUTs against --durability fsync and none')
    .option('--seconds <s>', 'per load', parseIntArg(1, 3600), 8)
    .option('--concurrency <c>', 'connections for the 4 KiB PUTs (1 MiB PUTs use 4)', parseIntArg(1, 10_000), 16),
).opts<{ seconds: number; concurrency: number }>()

async function putLoad(url: string, size: number, tag: string): Promise<{ ops: number; p50: number; p99: number; errors: number }> {
  let n = 0
  const body = randomBytes(size)
  const r = await autocannon({
    url,
    connections: size > 65536 ? 4 : CONCURRENCY,
    duration: SECONDS,
    requests: [
      {
        method: 'PUT',
        body,
        setupRequest: (req) => signed(url, { ...req, path: `/buckets/dur/files/${tag}-${n++}` }),
      },
    ],
  })
  return { ops: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx }
}

async function main(): Promise<void> {
  const rows: string[] = []
  const results: Record<string, Record<string, { ops: number; p50: number; p99: number; errors: number }>> = {}
  for (const mode of ['fsync', 'none'] as const) {
    const cluster = await startOwnCluster(4, ['--durability', mode])
    try {
      await authedFetch(`${cluster.url}/buckets/dur`, { method: 'POST' })
      results[mode] = { small: await putLoad(cluster.url, 4096, 's'), large: await putLoad(cluster.url, 1024 * 1024, 'l') }
    } finally {
      await cluster.stop()
    }
  }
  const f = results.fsync
  const n = results.none
  if (!f || !n) throw new Error('missing results')
  for (const k of ['small', 'large'] as const) {
    const a = f[k]
    const b = n[k]
    if (!a || !b) continue
    rows.push(
      `| ${k === 'small' ? '4 KiB PUT c' + CONCURRENCY : '1 MiB PUT c4'} | ${a.ops.toFixed(0)} (p50 ${a.p50} / p99 ${a.p99} ms) | ${b.ops.toFixed(0)} (p50 ${b.p50} / p99 ${b.p99} ms) | ${(a.ops / b.ops).toFixed(2)}x | ${a.errors + b.errors} |`,
    )
  }
  console.log(`Durability cost: ${SECONDS} s per run, one machine, one run`)
  console.log('| scenario | ops/s with fsync (default) | ops/s with --durability none | fsync / none | errors |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  for (const r of rows) console.log(r)
}

void main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
