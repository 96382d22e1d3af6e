/** What ./dynamoctl prints: short aligned tables and lines for people, one JSON document with --json. */
import type { Grant } from '../shared/wire/access-api.js'

export function line(text = ''): void {
  process.stdout.write(`${text}\n`)
}

/** A hint for the person at the terminal: on stderr, so stdout stays what scripts capture. */
export function hint(text: string): void {
  process.stderr.write(`${text}\n`)
}

export function printJson(value: unknown): void {
  line(JSON.stringify(value, null, 2))
}

/** Columns padded to their widest cell; the last one is not padded. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  for (const row of [header, ...rows])
    line(
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
}

/** `read write`, `owner`, or `-`: what a grant allows. */
export function rights(g: Pick<Grant, 'read' | 'write' | 'owner'>): string {
  const names = [g.read && 'read', g.write && 'write', g.owner && 'owner'].filter(Boolean)
  return names.length ? names.join(' ') : '-'
}

export function printGrants(grants: readonly Grant[]): void {
  if (grants.length === 0) {
    line('no grants')
    return
  }
  printTable(
    ['KEY', 'RIGHTS'],
    grants.map((g) => [g.key, rights(g)]),
  )
}
