/** `./dynamoctl explain bucket/key`: what every replica and stand-in holds for a key and what a read answers (`?explain=1`, shared/wire/explain.ts), as text or --json. */
import type { Command } from 'commander'
import { type ExplainAnswer, ExplainAnswerSchema, type ExplainProbe, type ExplainVersion } from '../shared/wire/explain.js'
import { CliError, EXIT } from './errors.js'
import { filesPath, readJson, refusalOf } from './object-client.js'
import { line, printJson } from './output.js'
import { formatTable, openTransfer, parseObjectPath } from './transfer-session.js'

function clockText(clock: Record<string, number>): string {
  const entries = Object.entries(clock)
  return entries.length ? entries.map(([actor, n]) => `${actor}:${n}`).join(',') : '{}'
}

function readText(a: ExplainAnswer): string {
  if (a.read.status === 200) return `200, version ${a.read.version ?? '?'}`
  if (a.read.status === 300) return `300 Multiple Choices, ${a.read.siblings ?? a.reconciled.siblings.length} siblings: ${a.reconciled.siblings.join(' ')}`
  return '404, nothing live'
}

function fate(v: ExplainVersion): string {
  if (v.survives) return v.tombstone ? 'survives (a delete)' : 'survives'
  return `superseded by ${v.superseded_by.map((s) => `${s.version} (${s.reason})`).join(', ')}`
}

function probeHeading(p: ExplainProbe): string {
  const role = p.role === 'primary' ? `primary #${p.position}` : `stand-in for ${p.hint_for ?? '?'} (position ${p.position})`
  const outcome = p.outcome === 'ok' ? `${p.versions.length} version(s)` : `${p.outcome}${p.error ? `: ${p.error}` : ''}`
  return `${p.node}  ${role}  member ${p.member_status}  ${outcome}  ${p.ms.toFixed(1)} ms`
}

/** The answer as a person reads it: the verdict first, then what each node holds. */
export function explainLines(a: ExplainAnswer): string[] {
  const out = [
    `${a.bucket}/${a.key}  N=${a.n}  preference list: ${a.preference_list.join(' ')}`,
    `a GET answers: ${readText(a)}`,
    `survivors: ${a.reconciled.survivors.join(' ') || '-'}   context clock: ${clockText(a.reconciled.vector_clock)}`,
  ]
  if (a.unanswered.length) out.push(`not answered (the picture may be incomplete): ${a.unanswered.join(' ')}`)
  for (const p of a.probes) {
    // Stand-ins holding nothing are many and say nothing: only those with hints, or that failed, are shown.
    if (p.role === 'stand-in' && p.outcome === 'ok' && p.versions.length === 0) continue
    out.push('', probeHeading(p))
    if (p.versions.length === 0) continue
    const rows = p.versions.map((v) => [
      v.version,
      v.tombstone ? 'delete' : v.manifest ? `${v.manifest.bytes} (${v.manifest.parts} parts)` : String(v.size),
      v.tombstone ? '-' : v.etag,
      v.last_modified,
      v.node,
      clockText(v.vector_clock),
      fate(v),
    ])
    for (const row of formatTable(
      ['  VERSION', 'SIZE', 'ETAG', 'LAST MODIFIED', 'BY', 'CLOCK', 'FATE'],
      rows.map((r) => [`  ${r[0]}`, ...r.slice(1)]),
    ))
      out.push(row)
  }
  const quiet = a.probes.filter((p) => p.role === 'stand-in' && p.outcome === 'ok' && p.versions.length === 0).length
  if (quiet) out.push('', `${quiet} stand-in probe(s) found no hints for the key`)
  return out
}

export function addExplainCommand(program: Command): void {
  program
    .command('explain')
    .description('show what each replica and stand-in holds for bucket/key, which version supersedes which and why, and what a GET answers (an admin key or the bucket owner)')
    .argument('<bucket/key>', 'the object', parseObjectPath)
    .action(async (target: [string, string], _o: unknown, cmd: Command) => {
      const s = openTransfer(cmd)
      const [bucket, key] = target
      const what = `explain ${bucket}/${key}`
      const res = await s.client.send({ method: 'GET', path: filesPath(bucket, key), query: { explain: '1' } })
      if (res.statusCode !== 200) throw await refusalOf(res, what)
      const parsed = ExplainAnswerSchema.safeParse(await readJson(res, what))
      if (!parsed.success) throw new CliError(EXIT.refused, `the proxy's answer to ${what} is not what this dynamoctl expects (an older proxy, without ?explain=1?)`, 'BadAnswer', 200)
      if (s.json) printJson(parsed.data)
      else for (const l of explainLines(parsed.data)) line(l)
    })
}
