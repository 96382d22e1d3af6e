/**
 * Render a stored run again: `latest.md`, `latency.svg` and (for a full run of our own cluster)
 * the bench block of docs/benchmarks.md, from its JSON in bench/results/. For when the report's format changes
 * between runs; the numbers are the run's own.
 *
 *   node --import=tsx bench/render.ts bench/results/<date>-<commit>.json
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { markdown, writeReport } from './report.js'
import type { Report } from './run-record.js'
import { BENCHMARKS_DOC, writeBenchTables } from './doc-tables.js'
import { ROOT } from './setup.js'
import { parseCommandLineOrExit, scriptCommand } from '../devtools/command-line.js'

async function main(): Promise<number> {
  const cmd = parseCommandLineOrExit(
    scriptCommand('bench/render.ts', "Render a stored run again (latest.md, latency.svg, and docs/benchmarks.md's figures for a full run of our own cluster)").argument(
      '<file>',
      'the run, bench/results/<date>-<commit>.json',
    ),
  )
  const file = cmd.processedArgs[0] as string
  const report = JSON.parse(readFileSync(file, 'utf8')) as Report
  const written = await writeReport(dirname(file), report)
  console.log(`wrote ${written.join(', ')}`)
  if (!report.quick && report.target.startsWith('own cluster')) {
    const page = join(ROOT, BENCHMARKS_DOC)
    writeBenchTables(page, markdown(report))
    console.log(`updated the figures in ${page}`)
  }
  return 0
}

void main().then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    console.error(err)
    process.exitCode = 1
  },
)
