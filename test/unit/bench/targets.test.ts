import test from 'ava'
import type { Report, Row } from '../../../bench/run-record.js'
import type { Stats } from '../../../bench/stats.js'
import { checkTargets, targetsMarkdown } from '../../../bench/targets.js'

const stats = (over: Partial<Stats>): Stats => ({ ops: 100, errors: 0, errorKinds: {}, seconds: 10, bytes: 0, opsPerSec: 10, mbPerSec: 0, p50Ms: 2, p99Ms: 6, p999Ms: 9, ...over })
const row = (id: string, ratio: number | undefined, over: Partial<Stats> = {}): Row => ({ id, title: id, unit: 'ops/s', cluster: stats(over), ...(ratio === undefined ? {} : { ratio }) })

/** A full default run whose every target holds; tests change one thing at a time. */
function report(rows: Row[] = [], opts: { quick?: boolean; size?: number; proxyGrowthMiB?: number | null } = {}): Report {
  const base: Row[] = [
    row('put-small-c16', 0.61),
    row('put-small-c64', 0.7),
    row('get-small-c16', 0.71),
    row('get-small-c64', 1.0),
    row('mixed-small-c64', 0.8),
    row('put-huge', 0.3, { mbPerSec: 74 }),
    row('get-huge', 0.8, { mbPerSec: 270 }),
  ]
  const byId = new Map([...base, ...rows].map((r) => [r.id, r]))
  const growth = opts.proxyGrowthMiB === undefined ? 10 : opts.proxyGrowthMiB
  return {
    date: '2026-12-05',
    commit: 'abc1234',
    dirty: false,
    quick: opts.quick ?? false,
    command: 'node --import=tsx bench/run.ts',
    machine: { node: '20', cpus: 2, memGiB: 24, platform: 'linux', loadavg: [0, 0, 0] },
    loadBefore: [0, 0, 0],
    settings: { size: opts.size ?? 4096, hugeSize: 1024 ** 3 },
    target: 'own cluster (4 nodes + proxy, N=3 R=2 W=2)',
    rows: [...byId.values()],
    rss: { objectBytes: 1024 ** 3, flatLimitMiB: 128, rows: growth === null ? [] : [{ name: 'proxy', growthMiB: growth, flat: true }] },
    problems: [],
  }
}

const metOf = (r: Report) => Object.fromEntries(checkTargets(r).map((c) => [c.target.split(' ').slice(0, 3).join(' '), c.met]))

test('a run meeting every target says so, row by row', (t) => {
  const checks = checkTargets(report())
  t.is(checks.length, 6)
  t.true(
    checks.every((c) => c.met === true),
    JSON.stringify(checks),
  )
  t.is(checks[0]?.measured, 'c16 0.610x, c64 0.700x')
  t.is(checks[3]?.measured, '71 MiB/s', '74 MB/s is 70.6 MiB/s')
})

test('one concurrency under its ratio fails the target; the others are unaffected', (t) => {
  const met = metOf(report([row('put-small-c16', 0.599)]))
  t.false(met['4 KiB PUT'])
  t.true(met['4 KiB GET'])
})

test('the worst p99/p50 of the 4 KiB rows decides the tail target, and is named', (t) => {
  const checks = checkTargets(report([row('mixed-small-c64', 0.8, { p50Ms: 10, p99Ms: 40.1 })]))
  const tail = checks.find((c) => c.target.startsWith('p99'))
  t.false(tail?.met)
  t.is(tail?.measured, 'at most 4.010x (mixed-small-c64)')
  t.true(checkTargets(report([row('mixed-small-c64', 0.8, { p50Ms: 10, p99Ms: 40 })])).find((c) => c.target.startsWith('p99'))?.met === true, 'exactly 4x is within')
})

test('rates are read in MiB/s (the rows hold MB/s), with the bounds inclusive', (t) => {
  t.false(metOf(report([row('put-huge', 0.3, { mbPerSec: 73.3 })]))['1 GiB PUT'])
  t.true(metOf(report([row('put-huge', 0.3, { mbPerSec: 73.41 })]))['1 GiB PUT'])
  t.false(metOf(report([row('get-huge', 0.8, { mbPerSec: 262 })]))['1 GiB GET'])
})

test('proxy growth is compared in MB; unsampled memory (--target) is not measured rather than met', (t) => {
  t.false(metOf(report([], { proxyGrowthMiB: 61.1 }))['proxy RSS grows'], '61.1 MiB is 64.07 MB')
  t.true(metOf(report([], { proxyGrowthMiB: 61 }))['proxy RSS grows'])
  const unsampled = checkTargets(report([], { proxyGrowthMiB: null })).find((c) => c.target.startsWith('proxy'))
  t.is(unsampled?.met, undefined)
  t.true(targetsMarkdown([unsampled as NonNullable<typeof unsampled>]).some((l) => l.includes('| not sampled | not measured |')))
})

test('a smoke test or other sizes check no target', (t) => {
  t.deepEqual(checkTargets(report([], { quick: true })), [])
  t.deepEqual(checkTargets(report([], { size: 8192 })), [])
  t.deepEqual(targetsMarkdown([]), [])
})

test('a scenario missing from the run is not measured, not failed', (t) => {
  const r = report()
  r.rows = r.rows.filter((x) => x.id !== 'get-huge')
  t.is(checkTargets(r).find((c) => c.target.startsWith('1 GiB GET'))?.met, undefined)
})
