/**
 * The log floor's store (bench/floor-stores.ts) writes what it acknowledged: the file, read back
 * record by record, holds every resolved write in order with a matching CRC-32, zero-filled space
 * after the last record, and grows by whole extents while writes go on.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import test from 'ava'
import { LOG_EXTENT_BYTES, LOG_RECORD_HEAD, openFloorStore } from '../../../bench/floor-stores.js'
import { forEachSeed } from '../../../devtools/prng.js'

interface LogRecord {
  key: string
  body: Buffer
}

/** The records of a log file, from its start to the first zero-filled head. */
function readLog(file: Buffer): LogRecord[] {
  const out: LogRecord[] = []
  let at = 0
  while (at + LOG_RECORD_HEAD <= file.length) {
    const keyLength = file.readUInt32BE(at)
    if (keyLength === 0) break
    const bodyLength = file.readUInt32BE(at + 4)
    const key = file.subarray(at + LOG_RECORD_HEAD, at + LOG_RECORD_HEAD + keyLength)
    const body = file.subarray(at + LOG_RECORD_HEAD + keyLength, at + LOG_RECORD_HEAD + keyLength + bodyLength)
    if (crc32(body, crc32(key)) !== file.readUInt32BE(at + 8)) throw new Error(`bad CRC at ${at}`)
    out.push({ key: key.toString(), body: Buffer.from(body) })
    at += LOG_RECORD_HEAD + keyLength + bodyLength
  }
  if (file.subarray(at).some((b) => b !== 0)) throw new Error(`bytes after the last record at ${at}`)
  return out
}

test('log floor: every acknowledged write is in the file, in order, with its CRC; reads come from it', async (t) => {
  t.timeout(60_000)
  const dir = mkdtempSync(join(tmpdir(), 'floor-log-'))
  try {
    const store = openFloorStore('log', dir)
    const written: LogRecord[] = []
    let n = 0
    // Groups of random sizes (one event-loop turn each) with bodies of random sizes, empty ones included.
    await forEachSeedAsync(async (group) => {
      await Promise.all(
        group.map(async (size) => {
          const r = { key: `/k/${n++}/é`, body: Buffer.alloc(size, n % 251) }
          await store.put(r.key, r.body)
          written.push(r)
        }),
      )
    })
    const log = readLog(readFileSync(join(dir, 'log')))
    t.is(log.length, written.length)
    // Resolved in the order they were written (a group resolves in order, groups one after another).
    t.deepEqual(
      log.map((r) => r.key),
      written.map((r) => r.key),
    )
    t.true(log.every((r, i) => r.body.equals((written[i] as LogRecord).body)))
    for (const r of written.slice(-20)) t.deepEqual(store.get(r.key), r.body)
    t.is(store.get('/never'), undefined)
    // Over one extent of records: the file grew by whole extents, zero-filled ahead.
    t.is(statSync(join(dir, 'log')).size % LOG_EXTENT_BYTES, 0)
    t.true(statSync(join(dir, 'log')).size > LOG_EXTENT_BYTES)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('log floor: a data dir already holding a log is refused, not overwritten', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'floor-log-'))
  try {
    openFloorStore('log', dir)
    t.throws(() => openFloorStore('log', dir), { code: 'EEXIST' })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

/** Groups of write sizes: 300 small groups, then enough 64 KiB writes to pass the first extent. */
async function forEachSeedAsync(run: (sizes: number[]) => Promise<void>): Promise<void> {
  const groups: number[][] = []
  forEachSeed(300, 7, (rng) => {
    groups.push(Array.from({ length: rng.range(1, 12) }, () => (rng.chance(0.1) ? 0 : rng.range(1, 8192))))
  })
  for (const g of groups) await run(g)
  const big = 64 * 1024
  for (let i = 0; i < LOG_EXTENT_BYTES / big / 16 + 1; i++) await run(Array.from({ length: 16 }, () => big))
}
