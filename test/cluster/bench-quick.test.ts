/**
 * `make bench --quick` as a smoke test: every scenario runs for a moment against its own cluster
 * and the baseline, and must complete with no errors. It asserts nothing about speed (this machine
 * is shared and noisy; speed is what `make bench` reports as ratios).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'

test('bench --quick: every scenario completes with no errors', async (t) => {
  t.timeout(5 * 60_000)
  const out = mkdtempSync(join(tmpdir(), 'bench-quick-'))
  try {
    const child = spawn(process.execPath, ['--import=tsx', 'bench/run.ts', '--quick', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] })
    let log = ''
    child.stdout.on('data', (d: Buffer) => {
      log += d
    })
    child.stderr.on('data', (d: Buffer) => {
      log += d
    })
    // The bench stops what it started on SIGTERM; a hung run is killed after 4 minutes.
    const guard = setTimeout(() => child.kill('SIGTERM'), 4 * 60_000)
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    clearTimeout(guard)
    t.is(code, 0, log.slice(-3000))
    t.regex(log, /quick check passed/)
    t.true(
      readdirSync(out).some((f) => f.endsWith('.json')),
      'results written',
    )
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})
