/** The README's performance section holds the latest full run's tables between two markers; a full run replaces them. */
import { readFileSync, writeFileSync } from 'node:fs'

export const BENCH_BEGIN = '<!-- bench:begin -->'
export const BENCH_END = '<!-- bench:end -->'

/** `readme` with the text between the bench markers replaced by `tables`; throws when the markers are missing or out of order. */
export function withBenchTables(readme: string, tables: string): string {
  const begin = readme.indexOf(BENCH_BEGIN)
  const end = readme.indexOf(BENCH_END)
  if (begin < 0 || end < 0 || end < begin || readme.indexOf(BENCH_BEGIN, begin + 1) >= 0 || readme.indexOf(BENCH_END, end + 1) >= 0) {
    throw new Error(`the README must hold exactly one ${BENCH_BEGIN} ... ${BENCH_END} block`)
  }
  return `${readme.slice(0, begin + BENCH_BEGIN.length)}\n${tables.trim()}\n${readme.slice(end)}`
}

/** Replace the bench block of the README at `path` with `tables`. */
export function writeBenchTables(path: string, tables: string): void {
  writeFileSync(path, withBenchTables(readFileSync(path, 'utf8'), tables))
}
