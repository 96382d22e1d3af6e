/** The storage node's one typed, frozen config, parsed from argv and env (flag names are fixed by SPEC). */
import { resolve } from 'node:path'
import { Command, InvalidArgumentError } from 'commander'
import cron from 'node-cron'
import {
  DEFAULT_EMBED_MAX_BYTES,
  DEFAULT_MAX_CLOCK_ENTRIES,
  DEFAULT_MAX_HINTS,
  DEFAULT_MAX_OBJECT_BYTES,
  DEFAULT_MAX_SIBLINGS,
  DEFAULT_N,
  DEFAULT_VNODES,
  INLINE_MAX_BYTES,
  STAGING_TTL_MS,
} from '../shared/constants.js'
import { INTERNAL_RPC_HELP, loadSecret, parseAddress, parseChoice, parseIntArg, parseNodeId, parseOnOff, parseSeeds } from '../shared/config/common.js'
import { MemberTls, memberTlsFlags, TLS_FLAG_HELP } from '../shared/tls/member-tls.js'
import { defaultGossipConfig, type GossipConfig } from './gossip/gossip-config.js'
import { CACHED_READ_MAX_BYTES, type Durability } from './store/blobs/blob-files.js'

export interface NodeConfig {
  id: string
  host: string
  port: number
  /**
   * host:port others reach this node at: what it announces in gossip. `--advertise`, else the
   * host:port it binds. They differ behind NAT or a forwarding proxy (the fault suite's link proxies).
   */
  address: string
  dataDir: string
  seeds: readonly string[]
  secret: string
  /** A second cluster secret, during a rotation: signatures made with it are accepted too (the node signs with `secret`). */
  previousSecret: string | undefined
  gossip: GossipConfig
  inlineMaxBytes: number
  /** Inline bytes up to this size are kept inside their key's record (0: all in the inline table, as before layout 2). */
  embedMaxBytes: number
  maxObjectBytes: number
  /** Replicas per key and virtual nodes per node: must match the proxies' (the node builds the same ring to reap tombstones). */
  n: number
  vnodes: number
  /** A tombstone is reaped no sooner than this after it was written, and only once every primary holds it. */
  tombstoneGraceMs: number
  reapIntervalMs: number
  maxSiblings: number
  maxClockEntries: number
  /** Hinted handoff: node-cron schedule of the retry loop, hint storage limit, and when hints for a vanished node are dropped. */
  handoffSchedule: string
  maxHintBytes: number
  /** Most hinted versions held for others (tombstones and empty objects included, which the byte bound does not count). */
  maxHints: number
  hintDropAfterMs: number
  /** Bound on what ownership transfers send per second (0: none). */
  transferMaxBytesPerS: number
  /** Free space kept for journal and metadata: below it new data is refused (507); undefined: max(256 MiB, 1 % of the filesystem). */
  reserveBytes: number | undefined
  /** Bodies staged for an upload that is never committed (its proxy died) are dropped after this. */
  stagingTtlMs: number
  /** 'fsync' (default) or 'none' (acknowledge before data reaches the disk; for measurements and throwaway data). */
  durability: Durability
  /** 'auto': object files bypass the page cache (O_DIRECT) where the filesystem allows; 'off': never. */
  directIo: 'auto' | 'off'
  /** With direct I/O, object files up to this size are still read through the page cache (hot objects served from memory). */
  cachedReadMaxBytes: number
  /** Anti-entropy exchanges (see storage-node/anti-entropy/). */
  antiEntropy: { intervalMs: number; segmentsPerRound: number; maxKeysPerRound: number }
  /** Small writes and reads to other nodes (handoff, anti-entropy) over RPC channels instead of HTTP requests. */
  internalRpc: boolean
  logLevel: string
  /** On SIGTERM: announce the leave, then keep serving this long (proxies route around the node) before closing. */
  drainMs: number
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  metricsToken: string | undefined
  /** Prometheus metrics: GET /metrics and what feeds it (off: 404, none of it runs). */
  metrics: boolean
  /** Mutual TLS on member links (--tls-cert/--tls-key/--tls-ca), loaded and checked; undefined: plain HTTP. */
  tls: MemberTls | undefined
}

export function parseNodeConfig(argv: readonly string[], env: NodeJS.ProcessEnv): Readonly<NodeConfig> {
  const g = defaultGossipConfig()
  const cmd = new Command('storage-node')
    .description('A storage node: durable versioned objects, gossip membership, hinted handoff')
    .requiredOption('--id <id>', 'node id, unique in the cluster (e.g. node-1)', parseNodeId)
    .option('--host <host>', 'address to bind (and to advertise, unless --advertise)', '127.0.0.1')
    .requiredOption('--port <port>', 'port to listen on', parseIntArg(1, 65535))
    .option('--advertise <host:port>', 'address to announce to the cluster when others must reach this node elsewhere than --host:--port (default: --host:--port)', parseAddress)
    .requiredOption('--data <dir>', 'data directory')
    .option('--seeds <list>', 'host:port of live members to join through, comma-separated', '')
    .option('--secret-file <file>', 'file holding the cluster secret (else env CLUSTER_SECRET)')
    .option('--previous-secret-file <file>', 'a second cluster secret, accepted but never signed with, while the secret is rotated (docs/operations.md)')
    .option('--gossip-interval-ms <ms>', 'T_gossip', parseIntArg(10, 60_000), g.intervalMs)
    .option('--gossip-fanout <n>', 'peers per gossip round', parseIntArg(1, 16), g.fanout)
    .option('--suspect-after-ms <ms>', 'silence before suspect', parseIntArg(10, 3_600_000), g.suspectAfterMs)
    .option('--fail-after-ms <ms>', 'T_fail: silence before down', parseIntArg(10, 3_600_000), g.failAfterMs)
    .option('--cleanup-after-ms <ms>', 'T_cleanup: silence before forgotten', parseIntArg(100, 2 ** 31 - 1), g.cleanupAfterMs)
    .option('--inline-max-bytes <n>', 'objects up to this size are stored inline in LMDB', parseIntArg(0, 16 * 1024 * 1024), INLINE_MAX_BYTES)
    .option(
      '--embed-max-bytes <n>',
      "inline objects up to this size are kept inside their key's record (0: in their own table, as versions before this one)",
      parseIntArg(0, 64 * 1024),
      DEFAULT_EMBED_MAX_BYTES,
    )
    .option('--max-object-bytes <n>', 'largest object accepted', parseIntArg(1, Number.MAX_SAFE_INTEGER), DEFAULT_MAX_OBJECT_BYTES)
    .option('--n <n>', 'replicas per key (as the proxy)', parseIntArg(1, 16), DEFAULT_N)
    .option('--vnodes <n>', 'virtual nodes per node (as the proxy)', parseIntArg(1, 4096), DEFAULT_VNODES)
    .option('--tombstone-grace-ms <ms>', 'how long a tombstone is kept at least', parseIntArg(0, 2 ** 31 - 1), 10 * 60_000)
    .option('--reap-interval-ms <ms>', 'how often tombstones are examined for reaping', parseIntArg(100, 2 ** 31 - 1), 60_000)
    .option('--max-siblings <n>', 'live concurrent versions per key before writes are refused (409)', parseIntArg(1, 100_000), DEFAULT_MAX_SIBLINGS)
    .option('--max-clock-entries <n>', 'actors kept in a version context', parseIntArg(1, 10_000), DEFAULT_MAX_CLOCK_ENTRIES)
    .option(
      '--handoff-schedule <cron>',
      'node-cron schedule (with seconds) of hint delivery',
      (v) => {
        if (!cron.validate(v)) throw new InvalidArgumentError('not a cron expression')
        return v
      },
      '*/2 * * * * *',
    )
    .option('--max-hint-bytes <n>', 'bytes of hints held for others before refusing to stand in', parseIntArg(0, Number.MAX_SAFE_INTEGER), 10 * 1024 ** 3)
    .option('--max-hints <n>', 'hinted versions held for others before refusing to stand in', parseIntArg(0, Number.MAX_SAFE_INTEGER), DEFAULT_MAX_HINTS)
    .option('--reserve-bytes <n>', 'free space kept for the journal and metadata: below it new data gets 507 (default: max(256 MiB, 1 % of the filesystem))', parseIntArg(0, Number.MAX_SAFE_INTEGER))
    .option(
      '--transfer-max-bytes-per-s <n>',
      'bound on the bytes per second this node sends when ranges change owners (join, decommission, remove); 0: none',
      parseIntArg(0, Number.MAX_SAFE_INTEGER),
      64 * 1024 * 1024,
    )
    .option('--hint-drop-after-ms <ms>', 'drop hints for a node missing from the membership this long', parseIntArg(0, Number.MAX_SAFE_INTEGER), 7 * 24 * 3_600_000)
    .option('--anti-entropy-interval-ms <ms>', 'time between anti-entropy exchanges with a random peer (0: off)', parseIntArg(0, 2 ** 31 - 1), 10_000)
    .option('--anti-entropy-segments <n>', 'key segments (of 256) compared per exchange', parseIntArg(1, 256), 16)
    .option('--anti-entropy-max-keys <n>', 'keys reconciled per exchange at most', parseIntArg(1, 1_000_000), 1000)
    .option('--staging-ttl-ms <ms>', 'drop staged upload bodies never committed after this long', parseIntArg(1000, 2 ** 31 - 1), STAGING_TTL_MS)
    .option('--durability <mode>', 'fsync: acknowledge writes once on disk; none: once in the OS cache (a crash may lose them)', parseChoice('fsync', 'none'), 'fsync')
    .option(
      '--direct-io <mode>',
      'auto: write and read object files with O_DIRECT (bypassing the page cache) where the filesystem allows; off: through the page cache',
      parseChoice('auto', 'off'),
      'auto',
    )
    .option(
      '--cached-read-max-bytes <n>',
      'with direct I/O, object files up to this size are still read through the page cache, so objects read often are served from memory (0: every read past it)',
      parseIntArg(0, Number.MAX_SAFE_INTEGER),
      CACHED_READ_MAX_BYTES,
    )
    .option('--internal-rpc <on|off>', INTERNAL_RPC_HELP, parseOnOff, true)
    .option('--metrics <on|off>', 'GET /metrics and the instrumentation behind it (off: /metrics answers 404 and nothing is counted or timed)', parseOnOff, true)
    .option('--metrics-token <token>', 'GET /metrics needs Authorization: Bearer TOKEN (default: open; metrics hold no keys, buckets or data)')
    .option('--tls-cert <file>', TLS_FLAG_HELP.cert)
    .option('--tls-key <file>', TLS_FLAG_HELP.key)
    .option('--tls-ca <file>', TLS_FLAG_HELP.ca)
    .option('--tls-crl <file>', TLS_FLAG_HELP.crl)
    .option('--drain-ms <ms>', 'on SIGTERM, announce the leave in gossip, then keep serving this long so proxies route around this node before it closes', parseIntArg(0, 600_000), 2000)
    .option('--log-level <level>', 'trace|debug|info|warn|error', env.LOG_LEVEL ?? 'info')
    .exitOverride()
  cmd.parse(argv as string[], { from: 'user' })
  const o = cmd.opts()
  const tlsFiles = memberTlsFlags(o)
  return Object.freeze({
    id: o.id,
    host: o.host,
    port: o.port,
    address: o.advertise ?? parseAddress(`${o.host}:${o.port}`),
    dataDir: resolve(o.data),
    seeds: parseSeeds(o.seeds),
    secret: loadSecret(o.secretFile, env),
    previousSecret: o.previousSecretFile ? loadSecret(o.previousSecretFile, {}) : undefined,
    gossip: {
      intervalMs: o.gossipIntervalMs,
      fanout: o.gossipFanout,
      suspectAfterMs: o.suspectAfterMs,
      failAfterMs: o.failAfterMs,
      cleanupAfterMs: o.cleanupAfterMs,
    },
    inlineMaxBytes: o.inlineMaxBytes,
    embedMaxBytes: o.embedMaxBytes,
    maxObjectBytes: o.maxObjectBytes,
    n: o.n,
    vnodes: o.vnodes,
    antiEntropy: { intervalMs: o.antiEntropyIntervalMs, segmentsPerRound: o.antiEntropySegments, maxKeysPerRound: o.antiEntropyMaxKeys },
    tombstoneGraceMs: o.tombstoneGraceMs,
    reapIntervalMs: o.reapIntervalMs,
    maxSiblings: o.maxSiblings,
    maxClockEntries: o.maxClockEntries,
    handoffSchedule: o.handoffSchedule,
    maxHintBytes: o.maxHintBytes,
    maxHints: o.maxHints,
    hintDropAfterMs: o.hintDropAfterMs,
    transferMaxBytesPerS: o.transferMaxBytesPerS,
    reserveBytes: o.reserveBytes,
    stagingTtlMs: o.stagingTtlMs,
    durability: o.durability,
    directIo: o.directIo,
    cachedReadMaxBytes: o.cachedReadMaxBytes,
    logLevel: o.logLevel,
    drainMs: o.drainMs as number,
    metricsToken: o.metricsToken as string | undefined,
    metrics: o.metrics as boolean,
    internalRpc: o.internalRpc as boolean,
    tls: tlsFiles ? MemberTls.load(tlsFiles, o.id) : undefined,
  })
}
