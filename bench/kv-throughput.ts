/**
 * Key-value API throughput against single object PUTs, in one run on one cluster: keys per second
 * for /set and /fetch batches of 100 keys (values of 4 bytes and of 4 KiB), and for single
 * `PUT /buckets/:b/files/:key` of the same values. Bounded in time and count; cleans up by pid.
 * Usage: node --import=tsx bench/kv-throughput.ts [--batches N] [--concurrency C]
 */
import { randomBytes } from 'node:crypto'
import { parseCommandLineOrExit, parseIntArg, scriptCommand } from '../devtools/command-line.js'
import { authedFetch } from './client-auth.js'
import { startOwnCluster } from './setup.js'

const { batches: BATCHES, concurrency: CONCURRENCY } = parseCommandLineOrExit(
  scriptCommand('bench/kv-throughput.ts', 'Key-value batches (/set, /fetch of 100 keys) against single object PUTs: keys per second')
    .option('--batches <n>', 'batches of 100 keys per case', parseIntArg(1, 100_000), 40)
    .option('--concurrency <c>', 'requests in flight', parseIntArg(1, 1024), 4),
).opts<{ batches: number; concurrency: number }>()
const BATCH = 100

async function timed(n: number, fn: (i: number) => Promise<void>): Promise<number> {
  let next = 0
  const start = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await fn(next++)
    }),
  )
  return (performance.now() - start) / 1000
}

async function ok(res: Response): Promise<unknown> {
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`)
  return res.json()
}

async function main(): Promise<void> {
  const cluster = await startOwnCluster(4)
  process.once('SIGINT', () => void cluster.stop().then(() => process.exit(130)))
  try {
    await ok(await authedFetch(`${cluster.url}/buckets/kvbench`, { method: 'POST' }))
    const rows: string[] = []
    for (const size of [4, 4096]) {
      const value = randomBytes(size).toString('base64')
      const key = (b: number, i: number) => ({ encoding: 'string', data: `s${size}-b${b}-k${i}` })
      const setS = await timed(BATCHES, async (b) => {
        const body = Array.from({ length: BATCH }, (_, i) => ({ key: key(b, i), value: { encoding: 'binary', data: value } }))
        const out = (await ok(await authedFetch(`${cluster.url}/set`, { method: 'PUT', body: JSON.stringify(body) }))) as { keys_added: number }[]
        if (out[0]?.keys_added !== BATCH) throw new Error(`batch ${b}: ${JSON.stringify(out)}`)
      })
      const fetchS = await timed(BATCHES, async (b) => {
        const body = Array.from({ length: BATCH }, (_, i) => key(b, i))
        const out = (await ok(await authedFetch(`${cluster.url}/fetch`, { method: 'POST', body: JSON.stringify(body) }))) as { value: unknown }[]
        if (out.some((p) => !p.value)) throw new Error(`batch ${b}: missing values`)
      })
      const bytes = Buffer.from(value, 'base64')
      const singles = Math.min(BATCHES * BATCH, 1000)
      const putS = await timed(singles, async (i) => {
        await ok(await authedFetch(`${cluster.url}/buckets/kvbench/files/s${size}-${i}`, { method: 'PUT', body: bytes }))
      })
      const getS = await timed(singles, async (i) => {
        const res = await authedFetch(`${cluster.url}/buckets/kvbench/files/s${size}-${i}`)
        if (res.status !== 200) throw new Error(`GET ${i}: ${res.status}`)
        await res.arrayBuffer()
      })
      const kps = (n: number, s: number) => Math.round(n / s)
      rows.push(
        `| ${size} B | ${kps(BATCHES * BATCH, setS)} | ${kps(BATCHES * BATCH, fetchS)} | ${kps(singles, putS)} | ${kps(singles, getS)} | ${(kps(BATCHES * BATCH, setS) / kps(singles, putS)).toFixed(2)}x | ${(kps(BATCHES * BATCH, fetchS) / kps(singles, getS)).toFixed(2)}x |`,
      )
    }
    console.log(`KV API vs single object requests: batches of ${BATCH}, ${BATCHES} batches, concurrency ${CONCURRENCY}, one run`)
    console.log('| value | /set keys/s | /fetch keys/s | single PUT/s | single GET/s | /set vs PUT | /fetch vs GET |')
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const r of rows) console.log(r)
  } finally {
    await cluster.stop()
  }
}

void main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
