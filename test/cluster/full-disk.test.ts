/**
 * A full disk is a clear, recoverable state. node-1's data directory is a small tmpfs the test
 * mounts itself (root only; elsewhere the test is skipped with the reason in its title), with a
 * reserve of a few MiB on every node. Filled through the proxy's public API: every upload still
 * succeeds (stand-ins take node-1's replicas), node-1 never exits, no node is marked failed, no
 * answer names a path. Then pushed below its reserve (a file of another tenant on its filesystem),
 * node-1 says so in /health, gossip and /cluster, answers new data with a fast 507 but takes
 * tombstones, hands its hints off to a node that returns, and serves reads, with its disk full to
 * the last byte. Once files are deleted
 * it takes data again, without a restart; every acknowledged key reads back as written.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import test from 'ava'
import { runningPid } from '../../cluster-ctl/launcher.js'
import { RemoteError } from '../../shared/http/node-client.js'
import { TestCluster } from '../../devtools/test-cluster.js'
import { createBucket, fetch, get, put } from '../helpers/http.js'
import { eventually, heldBy, internalClient, nodeRef } from '../helpers/internal.js'

const MiB = 1024 ** 2
const FS_MIB = 64
const RESERVE = 8 * MiB
const OBJECT = 4 * MiB
const BUCKET = 'full-disk'

interface WriteAnswer {
  pref_list: string[]
  replicas_written: string[]
  hinted: { node: string; for: string }[]
}
interface ClusterNode {
  id: string
  status: string
  full?: boolean
  disk?: { free_bytes: number; reserve_bytes: number; full: boolean }
}

function unmount(dir: string): void {
  // A process killed a moment ago may still hold the mount for a few ms.
  for (let i = 0; i < 50; i++) {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' })
      return
    } catch {
      execFileSync('sleep', ['0.1'])
    }
  }
  execFileSync('umount', ['-l', dir])
}

/** Mount a tmpfs of `mib` MiB at `dir`, or say why not. */
function mountTmpfs(dir: string, mib: number): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a tmpfs'
  mkdirSync(dir, { recursive: true })
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir], { stdio: 'pipe' })
    return undefined
  } catch (err) {
    return `mount -t tmpfs failed: ${String((err as Error).message).split('\n')[0]}`
  }
}

// Decided at load time, so a machine without it shows a real skip.
const probeDir = mkdtempSync(join(tmpdir(), 'full-disk-probe-'))
const skipReason = mountTmpfs(probeDir, 1)
if (!skipReason) unmount(probeDir)
rmSync(probeDir, { recursive: true, force: true })
if (skipReason) console.log(`full-disk.test: SKIPPED: ${skipReason}`)

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const bodyFor = (key: string, size: number) => {
  const b = Buffer.alloc(size)
  const seed = createHash('sha256').update(key).digest()
  for (let i = 0; i < size; i += seed.length) seed.copy(b, i)
  return b
}

const title = 'a node on a full disk: uploads go to stand-ins, 507 is fast, the node stays up, serves reads and hands off, and takes data again once files are deleted'
if (skipReason) test.skip(`${title} (skipped: ${skipReason})`, () => undefined)
else
  test.serial(title, async (t) => {
    t.timeout(150_000)
    let node1Dir = ''
    const cluster = await TestCluster.start(4, {
      nodeArgs: ['--reserve-bytes', String(RESERVE), '--handoff-schedule', '* * * * * *'],
      proxyArgs: ['--post-quorum-ms', '500'],
      prepare: (layout) => {
        node1Dir = join(layout.dataDir, 'node-1')
        const why = mountTmpfs(node1Dir, FS_MIB)
        if (why) throw new Error(why)
        return () => unmount(node1Dir)
      },
    })
    t.teardown(() => cluster.teardown())
    const url = cluster.url
    const node1Pid = runningPid(cluster.layout, 'node-1')
    t.truthy(node1Pid)
    /** What each acknowledged key holds now (undefined: deleted). */
    const acknowledged = new Map<string, string | undefined>()
    const errors: string[] = []
    const clusterNodes = async () => ((await (await fetch(`${url}/cluster`)).json()) as { nodes: ClusterNode[] }).nodes
    const node1Health = async () =>
      (await (await fetch(`${cluster.nodeUrl('node-1')}/health`)).json()) as { disk: { free_bytes: number; reserve_bytes: number; full: boolean }; hints: Record<string, { versions: number }> }
    const upload = async (key: string, size: number): Promise<WriteAnswer | undefined> => {
      const body = bodyFor(key, size)
      const res = await put(url, BUCKET, key, body)
      const text = await res.text()
      if (res.status !== 201) {
        errors.push(`PUT ${key}: ${res.status} ${text}`)
        return undefined
      }
      acknowledged.set(key, sha(body))
      return JSON.parse(text) as WriteAnswer
    }

    const readsBack = async () => {
      for (const [key, digest] of acknowledged) {
        const res = await get(url, BUCKET, key)
        const bytes = new Uint8Array(await res.arrayBuffer())
        if (digest === undefined) t.is(res.status, 404, `${key} is deleted`)
        else t.true(res.status === 200 && sha(bytes) === digest, `${key} reads back as written (${res.status} ${res.status === 200 ? '' : Buffer.from(bytes).toString()})`)
      }
    }

    await createBucket(url, BUCKET)
    // node-4 down first: node-1 stands in for it and holds hints, to hand off later while full.
    await cluster.stop('node-4')
    await cluster.waitForStatus('node-4', 'down')
    const hintedOnNode1: string[] = []
    const ownOnNode1: string[] = []
    for (let i = 0; i < 100 && (hintedOnNode1.length < 3 || ownOnNode1.length < 1); i++) {
      const w = await upload(`small-${i}`, 1024)
      if (w?.hinted.some((h) => h.node === 'node-1' && h.for === 'node-4')) hintedOnNode1.push(`small-${i}`)
      else if (w?.replicas_written.includes('node-1')) ownOnNode1.push(`small-${i}`)
    }
    t.true(hintedOnNode1.length >= 1, 'node-1 holds hints for node-4')
    t.true(ownOnNode1.length >= 1)

    // Fill node-1 through the API: far more than its filesystem holds.
    const filling: WriteAnswer[] = []
    for (let i = 0; i < 24; i++) {
      const w = await upload(`big-${i}`, OBJECT)
      if (w) filling.push(w)
    }
    t.deepEqual(errors, [], 'every upload succeeded while W other nodes had space')
    const skipped = filling.filter((w) => w.pref_list.includes('node-1') && !w.replicas_written.includes('node-1'))
    t.log(`fill: ${filling.length} uploads of ${OBJECT / MiB} MiB acknowledged, ${skipped.length} of them without node-1 though it is a primary (out of space)`)
    t.true(skipped.length > 0, 'node-1 refused replicas once out of space')
    t.is(runningPid(cluster.layout, 'node-1'), node1Pid, 'node-1 never exited')
    const afterFill = await node1Health()
    t.true(afterFill.disk.free_bytes >= afterFill.disk.reserve_bytes - MiB, `node-1 kept its reserve (${afterFill.disk.free_bytes} free)`)
    t.false(
      (await clusterNodes()).some((n) => n.id !== 'node-4' && n.status !== 'up'),
      'no healthy node was marked failed',
    )

    // Below the reserve, to the last byte: another tenant's file takes all that is left (the node's
    // checkpoints then fail for want of space, and it serves from its journal).
    // The node may free some space meanwhile (a checkpoint, a temp file): take what is left again until it reports none.
    let fillers = 0
    const takeTheRest = () => {
      const s = statfsSync(node1Dir)
      try {
        writeFileSync(join(node1Dir, `another-tenant-${fillers++}`), Buffer.alloc(s.bavail * s.bsize))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
      }
    }
    takeTheRest()
    await eventually(
      async () => {
        if ((await node1Health()).disk.free_bytes < MiB) return true
        takeTheRest()
        return false
      },
      10_000,
      'node-1 reports its disk (nearly) out of space',
    )
    const shownFull = (await node1Health()).disk
    await eventually(async () => (await clusterNodes()).some((n) => n.id === 'node-1' && n.full === true && n.disk?.full === true), 5000, '/cluster shows node-1 full, with its free space')
    const shown = (await clusterNodes()).find((n) => n.id === 'node-2')
    t.true((shown?.disk?.free_bytes ?? 0) > 0, '/cluster shows free space per node')

    // New data: a fast 507, before the body is read, naming no path.
    const client = internalClient(cluster)
    const refusals: number[] = []
    const sentBefore: number[] = []
    for (let i = 0; i < 5; i++) {
      // A sender that takes its time (a MiB every 50 ms): an answer before its last MiB came before the body.
      let pulled = 0
      const probe = Readable.from(
        (async function* () {
          while (pulled < 64) {
            pulled++
            yield Buffer.alloc(MiB)
            await new Promise((r) => setTimeout(r, 50))
          }
        })(),
      )
      const t0 = performance.now()
      const refused = await client.stage(nodeRef(cluster, 'node-1'), `full-disk-probe-${i}`, probe, undefined, 64 * MiB).then(
        () => undefined,
        (err: unknown) => err,
      )
      refusals.push(performance.now() - t0)
      sentBefore.push(pulled)
      probe.destroy()
      t.true(refused instanceof RemoteError && refused.status === 507 && refused.code === 'InsufficientStorage', `probe ${i}: ${String(refused)}`)
      t.false(String((refused as Error).message).includes('/'), 'no path in the 507')
    }
    client.close()
    refusals.sort((a, b) => a - b)
    t.log(`node-1 answered 64 MiB uploads of declared size with 507 in ${refusals.map((ms) => ms.toFixed(1)).join(', ')} ms, ${sentBefore.join(', ')} MiB of them taken from the sender by then`)
    t.true((refusals[2] as number) < 1000, 'the 507 is fast')
    t.true(
      sentBefore.every((mib) => mib < 64),
      'every 507 came before its body was sent',
    )

    // Uploads still succeed; a delete reaches node-1 (tombstones free space).
    for (let i = 24; i < 30; i++) {
      const w = await upload(`big-${i}`, OBJECT)
      t.false(w?.replicas_written.includes('node-1') ?? true, `big-${i} was not written to the full node-1`)
    }
    t.deepEqual(errors, [])
    // A small key: deleting it frees next to nothing, so node-1 stays full.
    const deletedKey = ownOnNode1[0] as string
    const del = await fetch(`${url}/buckets/${BUCKET}/files/${deletedKey}`, { method: 'DELETE' })
    const delAnswer = (await del.json()) as WriteAnswer
    t.is(del.status, 200)
    t.true(delAnswer.replicas_written.includes('node-1'), 'the full node took the tombstone')
    acknowledged.set(deletedKey, undefined)

    // Handoff out of the full node: node-4 returns and gets node-1's hints (which frees space on node-1).
    t.true((await node1Health()).disk.full, 'node-1 is full when node-4 returns')
    await cluster.restart('node-4')
    await eventually(async () => ((await node1Health()).hints['node-4']?.versions ?? 0) === 0, 20_000, 'node-1 handed its hints for node-4 off while full')
    for (const key of hintedOnNode1) t.is((await heldBy(cluster, 'node-4', BUCKET, key)).length, 1, `node-4 holds ${key}`)
    t.log(`node-1: ${shownFull.free_bytes} bytes free when full, ${(await node1Health()).disk.free_bytes} once its hints were handed off`)

    // Reads: every acknowledged key, as written.
    await readsBack()

    // Space comes back: the tenant's file and our big files are deleted; node-1 takes data again, no restart.
    for (let i = 0; i < fillers; i++) rmSync(join(node1Dir, `another-tenant-${i}`), { force: true })
    for (const key of [...acknowledged.keys()].filter((k) => k.startsWith('big-') && acknowledged.get(k) !== undefined)) {
      const res = await fetch(`${url}/buckets/${BUCKET}/files/${key}`, { method: 'DELETE' })
      t.is(res.status, 200, `DELETE ${key}`)
      acknowledged.set(key, undefined)
    }
    await eventually(async () => !(await node1Health()).disk.full, 10_000, 'node-1 above its reserve again')
    let resumed: string | undefined
    await eventually(
      async () => {
        const key = `again-${acknowledged.size}`
        const w = await upload(key, OBJECT)
        if (w?.replicas_written.includes('node-1')) resumed = key
        return resumed !== undefined
      },
      20_000,
      'a new upload stored on node-1',
    )
    t.log(`writes resumed on node-1 with ${resumed}`)
    t.is(runningPid(cluster.layout, 'node-1'), node1Pid, 'node-1 never exited or restarted')
    await readsBack()
    t.deepEqual(errors, [], 'no upload failed, and no error answer (with or without a path) reached a client')
  })
