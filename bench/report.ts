/** The outputs of a run: the markdown tables (stdout and latest.md), the JSON record and the latency chart (vega-lite to SVG). */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as vega from 'vega'
import * as vl from 'vega-lite'
import type { DynamoctlRoundTrip } from './dynamoctl-round-trip.js'
import { type Report, throughput } from './run-record.js'
import { checkTargets, targetsMarkdown } from './targets.js'

function fmt(x: number): string {
  if (x >= 100) return String(Math.round(x))
  if (x >= 10) return x.toFixed(1)
  return x.toFixed(2)
}

export function markdown(r: Report): string {
  const lines = [
    `Benchmark of ${r.target} — ${r.date}, commit ${r.commit}${r.dirty ? ' (dirty)' : ''}${r.quick ? ', --quick (smoke test: numbers are not meaningful)' : ''}`,
    '',
    `Machine: ${r.machine.cpus} cores, ${r.machine.memGiB} GiB, Node ${r.machine.node}; load generator, cluster and baseline share it (load average before the run ${r.loadBefore.join(' ')}, after ${r.machine.loadavg.join(' ')}). Command: \`${r.command}\``,
    '',
    '| Scenario | Cluster | p50 ms | p99 ms | p99.9 ms | Errors | Baseline | Baseline p50 / p99 ms | Ratio |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const row of r.rows) {
    const c = row.cluster
    const b = row.baseline
    lines.push(
      `| ${row.title} | ${fmt(throughput(c, row.unit))} ${row.unit} | ${fmt(c.p50Ms)} | ${fmt(c.p99Ms)} | ${fmt(c.p999Ms)} | ${c.errors} | ` +
        `${b ? `${fmt(throughput(b, row.unit))} ${row.unit}` : 'n/a'} | ${b ? `${fmt(b.p50Ms)} / ${fmt(b.p99Ms)}` : 'n/a'} | ${row.ratio === undefined ? 'n/a' : `${row.ratio.toFixed(3)}×`} |`,
    )
  }
  lines.push('', 'Ratio = cluster throughput / baseline throughput (baseline: bare node:http coordinator, 3 no-storage backends, answers after 2). MB = 10^6 bytes.')
  if (r.rss.rows.length > 0) {
    const mib = Math.round(r.rss.objectBytes / 2 ** 20)
    const settle = r.rss.settleMs
      ? ` Between the PUT's answer and the GET the run waited until every process was idle: ${fmt(r.rss.settleMs.cluster / 1000)} s for the cluster (the replica beyond W finishing its copy), ${fmt(r.rss.settleMs.baseline / 1000)} s for the baseline.`
      : ''
    lines.push(
      '',
      `Resident memory (VmRSS, sampled every 100 ms) and CPU time (user + system, /proc) during the ${mib} MiB PUT and GET; flat = peak less than ${r.rss.flatLimitMiB} MiB over the RSS before the PUT.${settle}`,
      '',
      '| Process | Before MiB | Peak during PUT MiB | Peak during GET MiB | Growth MiB | Flat | CPU s during PUT / settle / GET |',
      '| --- | ---: | ---: | ---: | ---: | --- | ---: |',
    )
    for (const x of r.rss.rows) {
      lines.push(
        `| ${x.name} | ${x.put?.startMiB ?? x.get?.startMiB ?? '?'} | ${x.put?.peakMiB ?? '?'} | ${x.get?.peakMiB ?? '?'} | ${x.growthMiB} | ${x.flat ? 'yes' : '**no**'} | ` +
          `${x.put?.cpuSeconds ?? '?'} / ${x.settle?.cpuSeconds ?? '?'} / ${x.get?.cpuSeconds ?? '?'} |`,
      )
    }
  }
  if (r.dynamoctl) lines.push('', ...dynamoctlMarkdown(r.dynamoctl))
  const targets = targetsMarkdown(checkTargets(r))
  if (targets.length > 0) lines.push('', ...targets)
  if (r.problems.length > 0) lines.push('', 'Problems:', '', ...r.problems.map((p) => `- ${p}`))
  return `${lines.join('\n')}\n`
}

/** Grouped bars of p50 and p99 per scenario, cluster and baseline side by side, log scale. */
export async function latencyChart(r: Report): Promise<string> {
  const values = r.rows.flatMap((row) => {
    const out = [
      { scenario: row.title, series: 'cluster p50', ms: row.cluster.p50Ms },
      { scenario: row.title, series: 'cluster p99', ms: row.cluster.p99Ms },
    ]
    if (row.baseline) out.push({ scenario: row.title, series: 'baseline p50', ms: row.baseline.p50Ms }, { scenario: row.title, series: 'baseline p99', ms: row.baseline.p99Ms })
    return out.filter((v) => v.ms > 0)
  })
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Latency per scenario (ms, log scale)', subtitle: `${r.date} ${r.commit}${r.quick ? ' (quick)' : ''}` },
    width: Math.max(600, r.rows.length * 90),
    height: 320,
    background: 'white',
    data: { values },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'scenario', type: 'nominal', sort: r.rows.map((row) => row.title), axis: { labelAngle: -35, labelLimit: 320 }, title: null },
      xOffset: { field: 'series', type: 'nominal', sort: ['cluster p50', 'cluster p99', 'baseline p50', 'baseline p99'] },
      y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, stack: null, title: 'latency (ms)' },
      color: {
        field: 'series',
        type: 'nominal',
        sort: ['cluster p50', 'cluster p99', 'baseline p50', 'baseline p99'],
        scale: { range: ['#1f77b4', '#0b3d66', '#ff9f4a', '#b35900'] },
        legend: { title: null, orient: 'top' },
      },
    },
  }
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/** Write <date>-<commit>.json, latest.md and latency.svg into `dir`; returns the paths. */
export async function writeReport(dir: string, r: Report): Promise<string[]> {
  mkdirSync(dir, { recursive: true })
  const json = join(dir, `${r.date}-${r.commit}.json`)
  const md = join(dir, 'latest.md')
  const svg = join(dir, 'latency.svg')
  writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`)
  writeFileSync(md, markdown(r))
  writeFileSync(svg, await latencyChart(r))
  return [json, md, svg]
}

function dynamoctlMarkdown(d: DynamoctlRoundTrip): string[] {
  const mib = Math.round(d.bytes / 2 ** 20)
  const cell = (c: DynamoctlRoundTrip['put']) => `| ${c.ok ? `${fmt(c.mibPerSec)} MiB/s` : '**failed**'} | ${fmt(c.ms / 1000)} s | ${c.peakRssMiB} MiB |`
  return [
    `\`./dynamoctl put\` then \`get\` of one ${mib} MiB file of random bytes (the CLI in its own process; peak RSS = its VmHWM); \`cmp\` of the copy: ${d.same ? 'same bytes' : '**differs**'}.`,
    '',
    '| dynamoctl | Rate | Time | Peak RSS |',
    '| --- | ---: | ---: | ---: |',
    `| put ${cell(d.put)}`,
    `| get ${cell(d.get)}`,
  ]
}
