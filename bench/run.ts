/**
 * `make bench`: the cluster (its own, or --target) and the baseline coordinator measured with
 * the same load generator and settings, scenario by scenario; results to bench/results/.
 * Everything it starts is stopped by pid on the way out, on SIGINT/SIGTERM and on a run deadline.
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { hasServerEnv, serverEnv } from '../cluster-ctl/malloc-env.js'
import { parseCommandLineOrExit } from '../devtools/command-line.js'
import { startBaseline } from './baseline-coordinator.js'
import { ensureBucket, populate } from './http-client.js'
import { Owned } from './owned.js'
import { BENCHMARKS_DOC, writeBenchTables } from './doc-tables.js'
import { type DynamoctlRoundTrip, dynamoctlRoundTrip } from './dynamoctl-round-trip.js'
import { markdown, writeReport } from './report.js'
import { type Report, type Row, type RssRow, rssRows, withRatio } from './run-record.js'
import { cannon, getRequest, hugeObject, largeObjects, listing, mixedRequest, putRequest, type SmallSpec, type Target } from './scenarios.js'
import { benchCommand, benchTls, commitInfo, machine, QUICK_OUT, ROOT, type Settings, settingsOf, sizeLabel, startOwnCluster } from './setup.js'
import type { Stats } from './stats.js'
import type { Credentials } from '../shared/config/credentials-file.js'

/** What this run started (created in main, so the parent that only re-runs itself owns nothing). */
let owned: Owned | undefined
const cleanup = (): Promise<void> => owned?.stopAll() ?? Promise.resolve()

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms))

function brief(s: Stats): string {
  return `${s.ops} ok, ${s.errors} errors${s.errors ? ` ${JSON.stringify(s.errorKinds)}` : ''}, ${s.opsPerSec} ops/s, ${s.mbPerSec} MB/s, p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms`
}

async function measure(cluster: Target, baseline: Target, title: string, run: (t: Target) => Promise<Stats>, settleMs: number): Promise<{ cluster: Stats; baseline: Stats }> {
  log(`${title}: cluster`)
  const c = await run(cluster)
  log(`  ${brief(c)}`)
  await settle(settleMs)
  log(`${title}: baseline`)
  const b = await run(baseline)
  log(`  ${brief(b)}`)
  await settle(settleMs)
  return { cluster: c, baseline: b }
}

async function runAll(s: Settings, cluster: Target, baseline: Target, runId: string): Promise<{ rows: Row[]; rss: RssRow[]; settleMs: { cluster: number; baseline: number }; problems: string[] }> {
  const rows: Row[] = []
  const problems: string[] = []
  const settleMs = s.quick ? 200 : 1000
  const bucket = `bench-${runId}`
  await ensureBucket(cluster.url, bucket)
  const small = sizeLabel(s.size)
  const spec: SmallSpec = { bucket, runId, body: Buffer.alloc(s.size, 0x62), getKey: (i) => `g-${runId}-${i % s.getKeys}` }
  log(`pre-populating ${s.getKeys} ${small} keys for the GETs`)
  const pre = await populate(cluster.url, bucket, s.getKeys, (i) => `g-${runId}-${i}`, spec.body, { concurrency: 32, deadlineMs: 120_000 })
  if (pre.failed > 0 || pre.written < s.getKeys) problems.push(`pre-population wrote ${pre.written} of ${s.getKeys} keys: ${pre.failures.join('; ')}`)
  log(`  ${pre.written} written in ${Math.round(pre.ms)} ms`)
  // Until V8 has compiled the hot paths, a process runs at half speed or less for its first
  // seconds (bench/warmup-curve.ts measures it; docs/benchmarks.md), and the cluster has more code
  // to compile than the baseline: both, and the load generator, are measured warm.
  if (s.warmupS > 0) {
    log(`warm-up: ${s.warmupS} s of PUTs and ${Math.ceil(s.warmupS / 2)} s of GETs per target`)
    for (const t of [cluster, baseline]) {
      await cannon(t.url, 16, s.warmupS, s.size, (i) => putRequest(spec, `warm-${t.name}`, i))
      await cannon(t.url, 16, Math.ceil(s.warmupS / 2), s.size, (i) => getRequest(spec, i))
    }
    await settle(settleMs)
  }

  const add = (id: string, title: string, unit: Row['unit'], m: { cluster: Stats; baseline?: Stats }) => rows.push(withRatio({ id, title, unit, ...m }))
  for (const c of s.concurrency) {
    const m = await measure(cluster, baseline, `PUT ${small} c${c}`, (t) => cannon(t.url, c, s.durationS, s.size, (i) => putRequest(spec, `${t.name}-c${c}`, i)), settleMs)
    add(`put-small-c${c}`, `PUT ${small} c${c}`, 'ops/s', m)
  }
  for (const c of s.concurrency) {
    const m = await measure(cluster, baseline, `GET ${small} c${c}`, (t) => cannon(t.url, c, s.durationS, s.size, (i) => getRequest(spec, i)), settleMs)
    add(`get-small-c${c}`, `GET ${small} c${c}`, 'ops/s', m)
  }
  const cMix = Math.max(...s.concurrency)
  const mixed = await measure(cluster, baseline, `mixed 90/10 c${cMix}`, (t) => cannon(t.url, cMix, s.durationS, s.size, (i) => mixedRequest(spec, `${t.name}-mix`, i)), settleMs)
  add(`mixed-small-c${cMix}`, `mixed 90/10 GET/PUT ${small} c${cMix}`, 'ops/s', mixed)

  const large = sizeLabel(s.largeSize)
  const lc = s.largeConcurrency
  const big: Record<string, { put: Stats; get: Stats }> = {}
  for (const t of [cluster, baseline]) {
    log(`PUT/GET ${large} c${lc}: ${t.name}`)
    big[t.name] = await largeObjects(t, bucket, `l-${runId}-${t.name}`, s.largeSize, { durationS: s.durationS, concurrency: lc })
    log(`  PUT ${brief(big[t.name]?.put as Stats)}\n  GET ${brief(big[t.name]?.get as Stats)}`)
    await settle(settleMs)
  }
  for (const op of ['put', 'get'] as const) add(`${op}-large-c${lc}`, `${op.toUpperCase()} ${large} c${lc}`, 'MB/s', { cluster: big.cluster?.[op] as Stats, baseline: big.baseline?.[op] as Stats })

  const huge = sizeLabel(s.hugeSize)
  log(`PUT+GET one ${huge}: cluster`)
  const hc = await hugeObject(cluster, bucket, `h-${runId}`, s.hugeSize)
  log(`  PUT ${brief(hc.put)}\n  idle ${hc.settleMs} ms after the PUT's answer\n  GET ${brief(hc.get)}, sha256 match: ${hc.sha256Match}`)
  await settle(settleMs)
  log(`PUT+GET one ${huge}: baseline`)
  const hb = await hugeObject(baseline, bucket, `h-${runId}`, s.hugeSize)
  log(`  PUT ${brief(hb.put)}\n  GET ${brief(hb.get)}`)
  add('put-huge', `PUT ${huge} (one)`, 'MB/s', { cluster: hc.put, baseline: hb.put })
  add('get-huge', `GET ${huge} (one, sha256 checked)`, 'MB/s', { cluster: hc.get, baseline: hb.get })
  if (hc.sha256Match === false) problems.push(`the ${huge} GET did not return the bytes that were PUT (sha256 mismatch)`)
  const flatLimitMiB = Math.max(64, Math.round(s.hugeSize / 2 ** 20 / 8))
  const rss = rssRows([...hc.rss.put, ...hb.rss.put], [...hc.rss.get, ...hb.rss.get], flatLimitMiB, [...hc.rss.settle, ...hb.rss.settle])
  for (const r of rss) if (!r.flat) problems.push(`${r.name}: RSS grew by ${r.growthMiB} MiB during the ${huge} PUT/GET (limit ${flatLimitMiB} MiB)`)

  const listBucket = `bench-list-${runId}`
  await ensureBucket(cluster.url, listBucket)
  log(`populating ${listBucket} with ${s.listKeys} keys (concurrency 32)`)
  const lp = await populate(cluster.url, listBucket, s.listKeys, (i) => `key-${String(i).padStart(6, '0')}`, Buffer.alloc(128, 0x6c), { concurrency: 32, deadlineMs: 600_000 })
  log(`  ${lp.written} written in ${Math.round(lp.ms)} ms (${Math.round(lp.written / (lp.ms / 1000))} PUT/s at concurrency 32)`)
  if (lp.failed > 0 || lp.written < s.listKeys) problems.push(`listing bucket: wrote ${lp.written} of ${s.listKeys} keys: ${lp.failures.join('; ')}`)
  log(`listing ${s.listKeys} keys, ${s.listLimit} a page: cluster`)
  const ls = await listing(cluster, listBucket, lp.written, s.listLimit, s.durationS)
  log(`  ${brief(ls)}`)
  add('list', `list ${s.listKeys} keys (${s.listLimit}/page; latency per page)`, 'keys/s', { cluster: ls })

  for (const row of rows) {
    for (const [who, st] of [
      ['cluster', row.cluster],
      ['baseline', row.baseline],
    ] as const) {
      if (!st) continue
      if (st.errors > 0) problems.push(`${row.title} (${who}): ${st.errors} errors ${JSON.stringify(st.errorKinds)}`)
      if (st.ops === 0) problems.push(`${row.title} (${who}): completed nothing`)
    }
  }
  return { rows, rss, settleMs: { cluster: hc.settleMs, baseline: hb.settleMs }, problems }
}

/** `./dynamoctl put` and `get` of one object of `bytes` (own cluster: its admin key); a failure or a copy that differs is a problem of the run. */
async function dynamoctlFigure(url: string, creds: Credentials, bucket: string, bytes: number, problems: string[]): Promise<DynamoctlRoundTrip> {
  log(`dynamoctl put + get of one ${sizeLabel(bytes)}, compared with cmp`)
  const d = await dynamoctlRoundTrip(url, creds, bucket, `ctl-${bucket}`, bytes)
  for (const [what, c] of [
    ['put', d.put],
    ['get', d.get],
  ] as const) {
    log(`  ${what}: ${c.ok ? `${c.mibPerSec} MiB/s, ${c.ms} ms, peak RSS ${c.peakRssMiB} MiB` : `failed: ${c.error}`}`)
    if (!c.ok) problems.push(`dynamoctl ${what} of ${sizeLabel(bytes)} failed: ${c.error}`)
  }
  if (d.get.ok && !d.same) problems.push(`dynamoctl get of ${sizeLabel(bytes)}: cmp found the copy differs from the file put`)
  return d
}

async function main(s: Settings): Promise<number> {
  const runId = Math.random().toString(36).slice(2, 8)
  const loadBefore = machine().loadavg
  // The commit measured is the one checked out when the run starts (dist/ was just built from it).
  const { commit, dirty } = commitInfo()
  const deadlineMs = (s.quick ? 10 : 20) * 60_000 + s.durationS * 60_000
  setTimeout(() => {
    log(`run deadline of ${deadlineMs / 60_000} min passed: stopping`)
    void cleanup().finally(() => process.exit(2))
  }, deadlineMs).unref()
  const own = new Owned((sig) => log(`${sig}: stopping everything this run started`))
  owned = own
  let cluster: Target
  let credentials: Credentials | undefined
  if (s.target) {
    cluster = { name: 'cluster', url: s.target, procs: [] }
    log(`measuring ${s.target} (memory of its processes is not sampled)`)
  } else {
    log(`starting the cluster: 4 nodes + proxy, N=3 R=2 W=2, default settings${benchTls() ? ', TLS on (mutual TLS between members, HTTPS to the proxy)' : ''}`)
    const started = await own.start(() => startOwnCluster(4))
    cluster = { name: 'cluster', url: started.url, procs: started.procs }
    credentials = started.credentials
    log(`  proxy ${started.url}; pids ${started.procs.map((p) => `${p.name}=${p.pid}`).join(' ')}`)
  }
  const b = await own.start(() => startBaseline())
  const baseline: Target = { name: 'baseline', url: b.url, procs: b.procs }
  log(`baseline coordinator ${b.url}`)

  const { rows, rss, settleMs, problems } = await runAll(s, cluster, baseline, runId)
  const dynamoctl = credentials ? await dynamoctlFigure(cluster.url, credentials, `bench-${runId}`, s.hugeSize, problems) : undefined
  const report: Report = {
    date: new Date().toISOString().slice(0, 10),
    commit,
    dirty,
    quick: s.quick,
    command: `node --import=tsx bench/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    machine: machine(),
    loadBefore,
    // The malloc settings every process of the run had (cluster-ctl/malloc-env.ts), or null for glibc's defaults.
    settings: { ...s, n: 3, r: 2, w: 2, glibcTunables: process.env.GLIBC_TUNABLES ?? null, ...(benchTls() && !s.target ? { tls: true } : {}) },
    target: s.target ? s.target : 'own cluster (4 nodes + proxy, N=3 R=2 W=2)',
    rows,
    rss: { objectBytes: s.hugeSize, flatLimitMiB: Math.max(64, Math.round(s.hugeSize / 2 ** 20 / 8)), rows: rss, settleMs },
    ...(dynamoctl ? { dynamoctl } : {}),
    problems,
  }
  await cleanup()
  const files = await writeReport(s.out, report)
  // Smoke-test output is not meant to be committed.
  if (s.out === QUICK_OUT) writeFileSync(join(s.out, '.gitignore'), '*\n')
  console.log(markdown(report))
  log(`wrote ${files.join(', ')}`)
  // A full run of our own cluster into the committed results is what docs/benchmarks.md shows.
  if (!s.quick && !s.target && s.out === join(ROOT, 'bench/results')) {
    const page = join(ROOT, BENCHMARKS_DOC)
    writeBenchTables(page, markdown(report))
    log(`updated the figures in ${page}`)
  }
  if (!s.quick) return 0
  const failed = rows.some((r) => r.cluster.errors > 0 || r.cluster.ops === 0 || (r.baseline && (r.baseline.errors > 0 || r.baseline.ops === 0)))
  log(failed ? 'quick check FAILED: a scenario had errors or completed nothing' : 'quick check passed: every scenario completed with no errors')
  return failed ? 1 : 0
}

/**
 * The load generator (and its hashing of every body) runs in this process: it gets the malloc
 * settings the servers and the baseline run with (cluster-ctl/malloc-env.ts) by running itself
 * again with them, so neither side of a ratio is measured through glibc's defaults.
 */
function rerunWithServerEnv(): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: serverEnv(process.env) })
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig))
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))))
}

// Parsed before the run starts over with the servers' malloc settings, so --help and bad input answer at once.
const settings = settingsOf(parseCommandLineOrExit(benchCommand()))
;(hasServerEnv(process.env) ? main(settings) : rerunWithServerEnv()).then(
  (code) => {
    process.exitCode = code
    void cleanup().finally(() => process.exit(code))
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err)
    void cleanup().finally(() => process.exit(1))
  },
)
