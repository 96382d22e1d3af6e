/**
 * CPU and wall time per durable 4 KiB write inside one process, no network: the durable floor's
 * bare LMDB put, and a storage node's store (replicate; replicate after decoding and validating an
 * RPC request head; coordinate), all group-committed and synced (storage-node/store/engine/group-commit.ts),
 * k writes per group. Separates what a commit costs from what a write adds to it.
 * The store's cases include what a node does to a received body (SHA-256 and a copy, ~0.01 ms).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open } from 'lmdb'
import { EMPTY_CONTEXT } from '../shared/vclock/versions.js'
import type { Version } from '../shared/wire/internal-api.js'
import { RpcRequestSchema } from '../shared/wire/rpc.js'
import { BlobFiles } from '../storage-node/store/blobs/blob-files.js'
import { GroupCommit } from '../storage-node/store/engine/group-commit.js'
import { LmdbObjectStore } from '../storage-node/store/lmdb-object-store.js'
import { Option, parseCommandLineOrExit, parseIntArg, parseIntList, scriptCommand } from '../devtools/command-line.js'
import { Owned } from './owned.js'

const cli = scriptCommand('bench/store-cost.ts', 'CPU and wall time per durable 4 KiB write inside one process: the bare LMDB put and the storage node store, group-committed')
  .option('--writes <n>', 'writes measured per case and group size', parseIntArg(1, 10_000_000), 3000)
  .addOption(new Option('--groups <list>', 'writes per group commit, comma-separated').argParser(parseIntList(1, 10_000)).default([1, 4, 12], '1,4,12'))
const BYTES = Buffer.alloc(4096, 0x62)
const WARM_GROUPS = 200

const cpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/** `WRITES` writes in groups of `k` concurrent ones (after a warm-up): CPU and wall ms per write. */
async function measure(writes: number, k: number, write: (i: number) => Promise<unknown>): Promise<{ cpu: number; wall: number }> {
  const group = (base: number) => Promise.all(Array.from({ length: k }, (_, j) => write(base + j)))
  for (let g = 0; g < WARM_GROUPS; g++) await group(1e9 + g * k)
  const c0 = cpuMs()
  const t0 = performance.now()
  const groups = Math.ceil(writes / k)
  for (let g = 0; g < groups; g++) await group(g * k)
  return { cpu: (cpuMs() - c0) / (groups * k), wall: (performance.now() - t0) / (groups * k) }
}

function version(i: number, etag: string): Version {
  return {
    dot: { actor: 'node-2.abcd1234~1', counter: i + 1 },
    context: EMPTY_CONTEXT,
    tombstone: false,
    size: BYTES.length,
    etag,
    contentType: 'application/octet-stream',
    lastModified: Date.now(),
    node: 'node-2',
  }
}

async function main(): Promise<void> {
  const o = parseCommandLineOrExit(cli).opts<{ writes: number; groups: number[] }>()
  const writes = o.writes
  const owned = new Owned()
  const dir = mkdtempSync(join(tmpdir(), 'store-cost-'))
  owned.add(() => rmSync(dir, { recursive: true, force: true }))
  try {
    const blobs = new BlobFiles({ dataDir: join(dir, 'node'), inlineMaxBytes: 64 * 1024, maxObjectBytes: 2 ** 30 })
    await blobs.start()
    const store = new LmdbObjectStore({ nodeId: 'node-1', dataDir: join(dir, 'node'), blobs })
    const floorRoot = open({ path: join(dir, 'floor'), compression: false })
    const floorGroup = new GroupCommit(floorRoot, { journalPath: join(dir, 'floor', 'journal'), sync: true })
    const floorDb = floorGroup.table('objects', floorRoot.openDB<Buffer, string>({ name: 'objects', encoding: 'binary' }))
    floorGroup.recover()
    const etag = (await blobs.fromBuffer(BYTES)).etag
    const cases: [string, (k: number) => (i: number) => Promise<unknown>][] = [
      [
        'floor: LMDB put',
        (k) => (i) =>
          floorGroup.run(() => {
            floorDb.put(`/bench/f-${k}-${i}`, BYTES)
          }),
      ],
      ['store: replicate', (k) => async (i) => store.replicate('bench', `r-${k}-${i}`, version(i, etag), await blobs.fromBuffer(BYTES))],
      [
        'store: RPC head decoded + replicate',
        (k) => async (i) => {
          const head = JSON.stringify({ op: 'replicate', bucket: 'bench', key: `p-${k}-${i}`, sentAt: Date.now(), version: version(i, etag) })
          const r = RpcRequestSchema.parse(JSON.parse(head))
          if (r.op !== 'replicate') throw new Error('not a replicate request')
          return store.replicate(r.bucket, r.key, r.version, await blobs.fromBuffer(BYTES))
        },
      ],
      [
        'store: coordinate (new key)',
        (k) => async (i) => store.coordinate('bench', `c-${k}-${i}`, { tombstone: false, contentType: 'application/octet-stream', expiresAt: Date.now() + 10_000 }, await blobs.fromBuffer(BYTES)),
      ],
    ]
    console.log(`Durable 4 KiB writes in one process, ${writes} per row after ${WARM_GROUPS} warm-up groups`)
    console.log('| writes per group | case | CPU ms per write | wall ms per write |')
    console.log('| ---: | --- | ---: | ---: |')
    for (const k of o.groups) {
      for (const [name, make] of cases) {
        const m = await measure(writes, k, make(k))
        console.log(`| ${k} | ${name} | ${m.cpu.toFixed(3)} | ${m.wall.toFixed(3)} |`)
      }
    }
    await store.close()
    await floorGroup.close()
    await floorRoot.close()
  } finally {
    await owned.stopAll()
  }
}

void main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
