/** Storage node entry point: parse config, build the components, start them; SIGTERM stops them in reverse. */
import { mkdirSync } from 'node:fs'
import { InternalTransport } from '../shared/http/internal-transport.js'
import { MemberSigner } from '../shared/http/member-signer.js'
import { NodeClient } from '../shared/http/node-client.js'
import { CLOCK_WARN_MS, clockReport, PeerClocks } from '../shared/http/peer-clocks.js'
import { RequestVerifier } from '../shared/http/request-verifier.js'
import { serve } from '../shared/http/serve.js'
import { createSignedClient } from '../shared/http/signed-client.js'
import { acceptedKeys } from '../shared/http/signing.js'
import { createLogger } from '../shared/log.js'
import { RpcClient } from '../shared/rpc/rpc-client.js'
import { memoryStatus } from '../shared/wire/internal-api.js'
import { AntiEntropy } from './anti-entropy/anti-entropy.js'
import { createNodeApp } from './app.js'
import { parseNodeConfig } from './config.js'
import { Gossiper } from './gossip/gossiper.js'
import { Membership } from './gossip/membership.js'
import { HintReplayer } from './handoff/hint-replayer.js'
import { NodeMetrics } from './metrics/node-metrics.js'
import { StoreUsageMeter } from './metrics/store-usage.js'
import { TombstoneReaper } from './reaper/tombstone-reaper.js'
import { NodeRing } from './ring/node-ring.js'
import { OwnershipTransfer } from './ring/ownership-transfer.js'
import { RpcServer } from './rpc/rpc-server.js'
import { ClockOffsets } from './service/clock-offsets.js'
import { ObjectService } from './service/object-service.js'
import { StagingArea } from './staging/staging-area.js'
import { BlobFiles } from './store/blobs/blob-files.js'
import { DiskSpace, diskStatus } from './store/blobs/disk-space.js'
import { LmdbObjectStore } from './store/lmdb-object-store.js'

async function main(): Promise<void> {
  let cfg: ReturnType<typeof parseNodeConfig>
  try {
    cfg = parseNodeConfig(process.argv.slice(2), process.env)
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode
    if (code === 0) process.exit(0)
    console.error(String((err as Error).message))
    process.exit(2)
  }
  const log = createLogger(cfg.id, cfg.logLevel)
  mkdirSync(cfg.dataDir, { recursive: true })
  const space = new DiskSpace({ path: cfg.dataDir, reserveBytes: cfg.reserveBytes })
  await space.start()
  const blobs = new BlobFiles({
    space,
    dataDir: cfg.dataDir,
    inlineMaxBytes: cfg.inlineMaxBytes,
    maxObjectBytes: cfg.maxObjectBytes,
    durability: cfg.durability,
    directIo: cfg.directIo,
    cachedReadMaxBytes: cfg.cachedReadMaxBytes,
  })
  await blobs.start()
  log.info(
    { directIo: blobs.directIo, asked: cfg.directIo, cachedReadMaxBytes: cfg.cachedReadMaxBytes },
    blobs.directIo ? 'object files bypass the page cache (O_DIRECT), but for reads of files up to cachedReadMaxBytes (if any)' : 'object files go through the page cache',
  )
  const store = new LmdbObjectStore({
    nodeId: cfg.id,
    dataDir: cfg.dataDir,
    blobs,
    maxSiblings: cfg.maxSiblings,
    maxClockEntries: cfg.maxClockEntries,
    maxHintBytes: cfg.maxHintBytes,
    maxHints: cfg.maxHints,
    embedMaxBytes: cfg.embedMaxBytes,
    durability: cfg.durability,
    log: log.child({ component: 'store' }),
    // Fail-stop: what reached the disk after a failed journal write or checkpoint is unknown, and
    // the held transaction is gone; the next start recovers from the journal (see group-commit.ts).
    onFailure: () => process.exit(74),
  })
  // Blob files on disk before the node serves may be orphans of a crash; the sweep runs in the
  // background once the node serves (it scans every record: seconds on a large store).
  const blobsAtStart = await blobs.listFiles()
  const staging = new StagingArea(blobs, cfg.stagingTtlMs)
  // Generation: a restarted node's heartbeats must beat its old ones, even with a wiped disk.
  // The ring record (durable in the data dir): a member that still owns ranges is never forgotten by gossip.
  const ring = new NodeRing({ selfId: cfg.id, address: cfg.address, dataDir: cfg.dataDir, log: log.child({ component: 'ring' }) })
  const membership = new Membership(cfg.id, cfg.address, Date.now(), cfg.gossip, Date.now, (id) => ring.holdsRanges(id))
  membership.setVnodes(cfg.vnodes)
  // Below the reserve the node says so in gossip: others stop sending it data (handoff, anti-entropy, proxies).
  const noteSpace = (s: ReturnType<DiskSpace['snapshot']>) => {
    membership.setFull(s.full)
    if (s.full) log.warn(diskStatus(s), 'free space is below the reserve: new data is refused (507) until space comes back')
    else log.info(diskStatus(s), 'free space is above the reserve again: new data is taken')
  }
  space.onChange = noteSpace
  if (space.full) noteSpace(space.snapshot())
  const clocks = new PeerClocks(undefined, Date.now, (address, offsetMs) => {
    const peer = membership.peers().find((p) => p.address === address)?.id ?? address
    if (Math.abs(offsetMs) > CLOCK_WARN_MS) log.warn({ peer, address, offsetMs }, `the clock of ${peer} is ${offsetMs} ms off this node's: check NTP on both`)
    else log.info({ peer, address, offsetMs }, `the clock of ${peer} agrees with this node's again`)
  })
  const signer = new MemberSigner({ secret: cfg.secret, previousSecret: cfg.previousSecret, selfId: cfg.id, clocks })
  const client = createSignedClient({ signer, tls: cfg.tls })
  const gossiper = new Gossiper({ membership, ring, client, log: log.child({ component: 'gossip' }) }, cfg.gossip, cfg.seeds)
  const nodes = new NodeClient(new InternalTransport({ signer, tls: cfg.tls }), cfg.internalRpc ? new RpcClient({ signer, tls: cfg.tls }) : undefined)
  const reaper = new TombstoneReaper(
    { store, membership, ring, nodes, log: log.child({ component: 'reaper' }) },
    { graceMs: cfg.tombstoneGraceMs, intervalMs: cfg.reapIntervalMs, n: cfg.n, vnodes: cfg.vnodes },
  )
  const replayer = new HintReplayer(
    { store, blobs, membership, ring, nodes, log: log.child({ component: 'handoff' }) },
    { schedule: cfg.handoffSchedule, dropAfterMs: cfg.hintDropAfterMs, n: cfg.n, vnodes: cfg.vnodes },
  )
  const antiEntropy = new AntiEntropy({ store, blobs, membership, ring, nodes, log: log.child({ component: 'anti-entropy' }) }, { ...cfg.antiEntropy, n: cfg.n, vnodes: cfg.vnodes })
  // Data follows ownership: looks for a change of owners every other gossip round; a decommissioned
  // node drains late writes for 2 T_fail + 5 s after its removal (proxies poll every second by default).
  const transfer = new OwnershipTransfer(
    { store, ring, membership, nodes, log: log.child({ component: 'transfer' }), heardFromCluster: () => gossiper.stats.exchanges > 0 || cfg.seeds.length === 0 },
    {
      n: cfg.n,
      vnodes: cfg.vnodes,
      intervalMs: 2 * cfg.gossip.intervalMs,
      drainMs: 2 * cfg.gossip.failAfterMs + 5000,
      maxBytesPerSecond: cfg.transferMaxBytesPerS,
      tombstoneGraceMs: cfg.tombstoneGraceMs,
    },
  )
  const service = new ObjectService({ nodeId: cfg.id, store, blobs })
  const offsets = new ClockOffsets()
  const verifier = new RequestVerifier(acceptedKeys(cfg.secret, cfg.previousSecret), cfg.id, cfg.address, Date.now, offsets)
  const rpc = new RpcServer({ nodeId: cfg.id, service, blobs, verifier, offsets, log: log.child({ component: 'rpc' }) })
  const usage = new StoreUsageMeter(cfg.dataDir)
  const metrics = cfg.metrics
    ? new NodeMetrics({
        gossip: gossiper,
        members: () => membership.views(),
        hintsPending: () => store.hintTotals(),
        hintsStored: () => store.hintsStored(),
        hintsDelivered: () => replayer.deliveredTo,
        hintsDeliveredBytes: () => replayer.deliveredBytesTo,
        siblings: store.siblings,
        storeUsage: () => usage.usage(),
        antiEntropy,
        disk: () => space.snapshot(),
        commits: () => store.commitStats,
        reaper,
        transfer: () => transfer.progress,
        hintsRedirected: () => replayer.redirected,
      })
    : undefined
  if (metrics) store.onJournalAppend(metrics.observeAppend)
  const app = createNodeApp({
    nodeId: cfg.id,
    store,
    blobs,
    staging,
    service,
    offsets,
    reapBlocked: () => (ring.joining().length > 0 ? `${ring.joining().join(', ')} joining the ring` : undefined),
    membership,
    ring,
    antiEntropy,
    status: () => ({
      gossip: { ...gossiper.stats },
      hints: store.hintTotals(),
      antiEntropy: { ...antiEntropy.stats },
      ...(transfer.progress ? { transfer: transfer.progress } : {}),
      ring_state: ring.get(cfg.id)?.state,
      commits: store.commitStats,
      disk: diskStatus(space.snapshot()),
      memory: memoryStatus(),
      clock_offsets: clockReport(clocks, membership),
    }),
    clocks,
    verifier,
    metrics,
    metricsToken: cfg.metricsToken,
    log,
  })

  staging.start()
  // With --tls-*: mutual TLS, a client without a certificate from the cluster CA fails the handshake.
  const server = await serve(app, cfg.host, cfg.port, cfg.tls?.serverOptions(), log.child({ component: 'tls' }))
  rpc.attach(server)
  gossiper.start()
  reaper.start()
  replayer.start()
  antiEntropy.start()
  transfer.start()
  log.info({ address: cfg.address, actor: store.actor, dataDir: cfg.dataDir }, 'storage node started')
  let stopping = false
  void blobs
    .sweepOrphans(blobsAtStart, () => store.referencedBlobs())
    .then(
      (orphans) => {
        if (orphans > 0) log.warn({ orphans }, 'removed blob files no version refers to (left by a crash)')
      },
      (err: unknown) => {
        if (!stopping) log.warn({ err: String(err) }, 'orphan blob sweep failed')
      },
    )

  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping')
    await transfer.stop()
    await antiEntropy.stop()
    await replayer.stop()
    await reaper.stop()
    await gossiper.stop()
    // Left in gossip: proxies and peers route around this node within a poll or two. Until then it still serves.
    log.info({ drainMs: cfg.drainMs }, 'stopping: leave announced, still serving while proxies route around')
    await new Promise((resolve) => setTimeout(resolve, cfg.drainMs))
    // RPC channels first: the HTTP server waits for upgraded connections, which it never closes itself.
    rpc.closeAll()
    nodes.close()
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeIdleConnections()
      setTimeout(() => server.closeAllConnections(), 2000).unref()
    })
    await staging.stop()
    space.stop()
    await store.close()
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
}

void main().catch((err) => {
  console.error(err)
  process.exit(1)
})
