/**
 * docs/benchmarks.md holds the latest full run's tables between two markers; a full run of
 * `make bench` (and `bench/render.ts` of a stored run) replaces them. The per-run history is the
 * JSON files of bench/results/, not prose.
 */
import { readFileSync, writeFileSync } from 'node:fs'

/** Where the latest tables live, relative to the repository root. */
export const BENCHMARKS_DOC = 'docs/benchmarks.md'
export const BENCH_BEGIN = '<!-- bench:begin -->'
export const BENCH_END = '<!-- bench:end -->'

/** `doc` with the text between the bench markers replaced by `tables`; throws when the markers are missing, repeated or out of order. */
export function withBenchTables(doc: string, tables: string): string {
  const begin = doc.indexOf(BENCH_BEGIN)
  const end = doc.indexOf(BENCH_END)
  if (begin < 0 || end < 0 || end < begin || doc.indexOf(BENCH_BEGIN, begin + 1) >= 0 || doc.indexOf(BENCH_END, end + 1) >= 0) {
    throw new Error(`${BENCHMARKS_DOC} must hold exactly one ${BENCH_BEGIN} ... ${BENCH_END} block`)
  }
  return `${doc.slice(0, begin + BENCH_BEGIN.length)}\n${tables.trim()}\n${doc.slice(end)}`
}

/** Replace the bench block of the markdown file at `path` (BENCHMARKS_DOC under the root) with `tables`. */
export function writeBenchTables(path: string, tables: string): void {
  writeFileSync(path, withBenchTables(readFileSync(path, 'utf8'), tables))
}
