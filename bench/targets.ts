/**
 * The benchmark issue's targets, checked against one run's rows, so every report says which hold
 * in that run instead of leaving it to whoever reads the tables. The targets are defined for the
 * default sizes (4 KiB small objects, one 1 GiB object): a run with other sizes, or a --quick
 * smoke test, checks none of them.
 */
import type { Report, Row } from './run-record.js'
import type { Stats } from './stats.js'

export interface TargetCheck {
  target: string
  /** What this run measured, e.g. `c16 0.272x, c64 0.446x`. */
  measured: string
  /** undefined: the run did not measure it (a scenario or the processes' memory was missing). */
  met: boolean | undefined
}

const SMALL_BYTES = 4096
const HUGE_BYTES = 1024 ** 3
const MIB = 2 ** 20

/** Whether the run used the sizes the targets are stated for (and was not a smoke test). */
export function targetsApply(r: Pick<Report, 'quick' | 'settings'>): boolean {
  return !r.quick && r.settings.size === SMALL_BYTES && r.settings.hugeSize === HUGE_BYTES
}

const ratioText = (x: number): string => `${x.toFixed(3)}x`

/** Every row of `prefix` (one per concurrency) has a ratio of at least `min`. */
function ratioTarget(rows: readonly Row[], target: string, prefix: string, min: number): TargetCheck {
  const mine = rows.filter((r) => r.id.startsWith(prefix) && r.ratio !== undefined)
  if (mine.length === 0) return { target, measured: 'not measured', met: undefined }
  return {
    target,
    measured: mine.map((r) => `c${r.id.slice(prefix.length)} ${ratioText(r.ratio as number)}`).join(', '),
    met: mine.every((r) => (r.ratio as number) >= min),
  }
}

function mibPerSec(s: Stats): number {
  return (s.mbPerSec * 1e6) / MIB
}

function rateTarget(rows: readonly Row[], target: string, id: string, minMiBs: number): TargetCheck {
  const row = rows.find((r) => r.id === id)
  if (!row || row.cluster.ops === 0) return { target, measured: 'not measured', met: undefined }
  const rate = mibPerSec(row.cluster)
  return { target, measured: `${rate.toFixed(0)} MiB/s`, met: rate >= minMiBs }
}

/** The targets, in its order; empty when they do not apply to the run (see targetsApply). */
export function checkTargets(r: Report): TargetCheck[] {
  if (!targetsApply(r)) return []
  const small = r.rows.filter((row) => row.id.startsWith('put-small-c') || row.id.startsWith('get-small-c') || row.id.startsWith('mixed-small-c'))
  const tails = small.map((row) => ({ row, x: row.cluster.p50Ms > 0 ? row.cluster.p99Ms / row.cluster.p50Ms : Number.POSITIVE_INFINITY }))
  const worst = tails.reduce<(typeof tails)[number] | undefined>((w, t) => (!w || t.x > w.x ? t : w), undefined)
  const proxy = r.rss.rows.find((x) => x.name === 'proxy')
  const growthMB = proxy ? (proxy.growthMiB * MIB) / 1e6 : undefined
  return [
    ratioTarget(r.rows, '4 KiB PUT >= 0.60x the baseline', 'put-small-c', 0.6),
    ratioTarget(r.rows, '4 KiB GET >= 0.70x the baseline', 'get-small-c', 0.7),
    {
      target: 'p99 <= 4x p50 (4 KiB scenarios)',
      measured: worst ? `at most ${worst.x.toFixed(3)}x (${worst.row.title})` : 'not measured',
      met: worst ? worst.x <= 4 : undefined,
    },
    rateTarget(r.rows, '1 GiB PUT >= 70 MiB/s', 'put-huge', 70),
    rateTarget(r.rows, '1 GiB GET >= 250 MiB/s', 'get-huge', 250),
    {
      target: 'proxy RSS grows < 64 MB during the 1 GiB PUT and GET',
      measured: growthMB === undefined ? 'not sampled' : `${growthMB.toFixed(1)} MB`,
      met: growthMB === undefined ? undefined : growthMB < 64,
    },
  ]
}

/** The checks as a markdown table (none: empty). */
export function targetsMarkdown(checks: readonly TargetCheck[]): string[] {
  if (checks.length === 0) return []
  return [
    'Targets of the benchmark issue in this run:',
    '',
    '| Target | Measured | Met |',
    '| --- | --- | --- |',
    ...checks.map((c) => `| ${c.target} | ${c.measured} | ${c.met === undefined ? 'not measured' : c.met ? 'yes' : '**no**'} |`),
  ]
}
