/** The proxy's one typed, frozen config, parsed from argv and env (flag names are fixed by SPEC). */
import { readFileSync } from 'node:fs'
import { Command, InvalidArgumentError } from 'commander'
import { DEFAULT_MAX_OBJECT_BYTES, DEFAULT_N, DEFAULT_R, DEFAULT_VNODES, DEFAULT_W } from '../shared/constants.js'
import { MemberTls, memberTlsFlags, TLS_FLAG_HELP } from '../shared/tls/member-tls.js'
import { INTERNAL_RPC_HELP, loadSecret, parseFraction, parseIntArg, parseNodeId, parseOnOff, parseSeeds } from '../shared/config/common.js'

export interface ProxyConfig {
  /** This proxy's member id, named in its signatures to the nodes. */
  id: string
  host: string
  port: number
  seeds: readonly string[]
  secret: string
  n: number
  r: number
  w: number
  vnodes: number
  maxObjectBytes: number
  /** How often the proxy refreshes membership from a node. */
  membershipPollMs: number
  /** How long a node whose request failed is skipped by this proxy. */
  localDownMs: number
  /** After W acknowledgements, how long to wait for the other replicas before answering. */
  postQuorumMs: number
  /** Bound on one replica's answer to a small-body write, after which a stand-in is tried. */
  replicaTimeoutMs: number
  /** Chance that a read asks all N replicas instead of R (background read repair of the others). */
  readRepairChance: number
  /** A replica silent this long during a read gets a speculative request to another. */
  speculativeReadMs: number
  /** Small writes and reads to nodes over multiplexed RPC channels (shared/rpc/) instead of one HTTP request each. */
  internalRpc: boolean
  /** A request body averaging under minBodyBytesPerSec over this window is cut with 408 (0 bytes/s: never). */
  slowBodyWindowMs: number
  minBodyBytesPerSec: number
  /** Key-value API: batch bounds (413 past them) and requests of one batch in flight. */
  kvMaxBatchKeys: number
  kvMaxBatchBytes: number
  kvConcurrency: number
  /** Exact origins answered with CORS headers; empty: none (no Access-Control-* header is ever sent). */
  corsOrigins: readonly string[]
  /** The SigV4 region clients sign for. */
  region: string
  /** How often keys, grants and bucket records are re-read from the members; after staleMs without a complete read, requests are refused (503). */
  accessRefreshMs: number
  accessStaleMs: number
  /** A cluster secret being rotated out: key secrets it sealed still open, and are re-sealed with the current one. */
  previousSecret: string | undefined
  logLevel: string
  /** The S3 endpoint's port (proxy/s3/); none: no S3 listener. */
  s3Port: number | undefined
  /** With it, `BUCKET.<s3Domain>` in Host names the bucket (virtual-host style); path style always works. */
  s3Domain: string | undefined
  /** A multipart upload neither completed nor aborted this long after it began is collected (its parts deleted). */
  s3UploadTtlMs: number
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  metricsToken: string | undefined
  /** Prometheus metrics: GET /metrics and the counting and timing of requests behind it (off: 404, none of it runs). */
  metrics: boolean
  /** Server-Timing on every answer and ?trace=1 on writes (an AsyncLocalStorage: 3-14 % of the proxy's CPU per small PUT on Node 20). */
  serverTiming: boolean
  /** On SIGTERM: serve this long with /health at 503 (load balancers take the proxy out), then stop accepting. */
  drainMs: number
  /** Then wait at most this long for requests in flight before cutting their connections. */
  stopTimeoutMs: number
  /** Mutual TLS to the nodes (--tls-cert/--tls-key/--tls-ca; the certificate names `id`); undefined: plain HTTP. */
  tls: MemberTls | undefined
  /** HTTPS on the public port and the S3 port (--public-tls-cert/--public-tls-key); undefined: plain HTTP. */
  publicTls: PublicTls | undefined
}

/** The proxy's public certificate and key (PEM). */
export interface PublicTls {
  cert: Buffer
  key: Buffer
}

export function parseProxyConfig(argv: readonly string[], env: NodeJS.ProcessEnv): Readonly<ProxyConfig> {
  const cmd = new Command('proxy')
    .description('The stateless public API and quorum coordinator')
    .option('--id <id>', 'member id named in signatures to the nodes (default: proxy-<host>-<port>)', parseNodeId)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to listen on', parseIntArg(1, 65535), 8080)
    .requiredOption('--seeds <list>', 'host:port of storage nodes to learn membership from, comma-separated')
    .option('--secret-file <file>', 'file holding the cluster secret (else env CLUSTER_SECRET)')
    .option('--n <n>', 'replicas per object', parseIntArg(1, 16), DEFAULT_N)
    .option('--r <r>', 'read quorum', parseIntArg(1, 16), DEFAULT_R)
    .option('--w <w>', 'write quorum', parseIntArg(1, 16), DEFAULT_W)
    .option('--vnodes <n>', 'virtual nodes per storage node (must match across the cluster)', parseIntArg(1, 4096), DEFAULT_VNODES)
    .option('--max-object-bytes <n>', 'largest object accepted (413 past it)', parseIntArg(1, Number.MAX_SAFE_INTEGER), DEFAULT_MAX_OBJECT_BYTES)
    .option('--membership-poll-ms <ms>', 'membership refresh period', parseIntArg(50, 60_000), 1000)
    .option('--local-down-ms <ms>', 'how long a failed node is skipped', parseIntArg(0, 600_000), 2000)
    .option('--post-quorum-ms <ms>', 'when stand-ins are involved, after W acks wait this long for them, so the answer names the hints', parseIntArg(0, 10_000), 50)
    .option('--replica-timeout-ms <ms>', 'bound on a replica answering a small write before a stand-in is tried', parseIntArg(100, 600_000), 3000)
    .option('--read-repair-chance <p>', 'chance that a read asks every replica instead of R, repairing the others', parseFraction, 0.1)
    .option('--speculative-read-ms <ms>', 'ask one more replica when a read has waited this long (0: never)', parseIntArg(0, 60_000), 100)
    .option('--slow-body-window-ms <ms>', 'window over which a request body must average --min-body-bytes-per-s', parseIntArg(100, 3_600_000), 30_000)
    .option('--min-body-bytes-per-s <n>', 'slowest request body tolerated, else 408 (0: no limit)', parseIntArg(0, 2 ** 31 - 1), 1024)
    .option('--kv-max-batch-keys <n>', 'keys per /set, /fetch, /query batch', parseIntArg(1, 1_000_000), 1000)
    .option('--kv-max-batch-bytes <n>', 'bytes per key-value batch body', parseIntArg(1024, 2 ** 31 - 1), 16 * 1024 * 1024)
    .option('--kv-concurrency <n>', 'requests of one batch in flight', parseIntArg(1, 1024), 32)
    .option('--internal-rpc <on|off>', INTERNAL_RPC_HELP, parseOnOff, true)
    .option('--server-timing <on|off>', 'Server-Timing on every answer, and ?trace=1 on writes (costs CPU per request: docs/operations.md#timing-a-request)', parseOnOff, false)
    .option('--cors-origins <list>', 'exact origins (https://app.example.com) allowed cross-origin requests, comma-separated (default: none)', parseCorsOrigins, [])
    .option('--region <region>', 'the AWS region clients sign requests for', 'us-east-1')
    .option('--access-refresh-ms <ms>', 'how often keys, grants and bucket records are re-read from the storage nodes', parseIntArg(100, 60_000), 1000)
    .option('--access-stale-ms <ms>', 'refuse requests (503) when keys and grants could not be re-read for this long', parseIntArg(1000, 600_000), 5000)
    .option(
      '--previous-secret-file <file>',
      'the other cluster secret during a rotation: member signatures made with it are accepted, and access-key secrets it sealed are re-sealed with the current one (docs/operations.md)',
    )
    .option('--s3-port <port>', 'serve the S3 API on this port too (default: no S3 endpoint)', parseIntArg(1, 65535))
    .option('--s3-domain <domain>', 'virtual-host style S3: a Host of BUCKET.<domain> names the bucket (path style always works)')
    .option('--s3-upload-ttl-ms <ms>', 'collect S3 multipart uploads neither completed nor aborted after this long', parseIntArg(60_000, 365 * 86_400_000), 86_400_000)
    .option('--metrics <on|off>', 'GET /metrics and the instrumentation behind it (off: /metrics answers 404 and nothing is counted or timed)', parseOnOff, true)
    .option('--metrics-token <token>', 'GET /metrics needs Authorization: Bearer TOKEN (default: open; metrics hold no keys, buckets or data)')
    .option('--drain-ms <ms>', 'on SIGTERM, keep serving this long with /health answering 503, so a load balancer stops sending requests first', parseIntArg(0, 600_000), 2000)
    .option('--stop-timeout-ms <ms>', 'then, with no new connections, wait at most this long for requests in flight', parseIntArg(0, 3_600_000), 20_000)
    .option('--tls-cert <file>', TLS_FLAG_HELP.cert)
    .option('--tls-key <file>', TLS_FLAG_HELP.key)
    .option('--tls-ca <file>', TLS_FLAG_HELP.ca)
    .option('--tls-crl <file>', TLS_FLAG_HELP.crl)
    .option('--public-tls-cert <file>', 'serve the public port (and the S3 port) over HTTPS with this certificate (PEM, with its chain)')
    .option('--public-tls-key <file>', 'the key of --public-tls-cert (PEM)')
    .option('--log-level <level>', 'trace|debug|info|warn|error', env.LOG_LEVEL ?? 'info')
    .exitOverride()
  cmd.parse(argv as string[], { from: 'user' })
  const o = cmd.opts()
  if (o.r > o.n || o.w > o.n) throw new InvalidArgumentError('R and W must not exceed N')
  const seeds = parseSeeds(o.seeds)
  if (seeds.length === 0) throw new InvalidArgumentError('--seeds needs at least one storage node')
  if (o.s3Port !== undefined && o.s3Port === o.port) throw new InvalidArgumentError('--s3-port must differ from --port')
  if (o.s3Domain !== undefined && !/^[a-z0-9.-]{1,253}(:\d{1,5})?$/.test(o.s3Domain)) throw new InvalidArgumentError('--s3-domain takes a host name like s3.example.com')
  if (!/^[a-z0-9-]{1,32}$/.test(o.region)) throw new InvalidArgumentError('--region takes a region name like us-east-1')
  if ((o.publicTlsCert === undefined) !== (o.publicTlsKey === undefined)) throw new InvalidArgumentError('--public-tls-cert and --public-tls-key go together')
  const id = (o.id as string | undefined) ?? `proxy-${o.host}-${o.port}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 63)
  const tlsFiles = memberTlsFlags(o)
  return Object.freeze({
    id,
    host: o.host,
    port: o.port,
    seeds,
    secret: loadSecret(o.secretFile, env),
    n: o.n,
    r: o.r,
    w: o.w,
    vnodes: o.vnodes,
    maxObjectBytes: o.maxObjectBytes,
    membershipPollMs: o.membershipPollMs,
    localDownMs: o.localDownMs,
    postQuorumMs: o.postQuorumMs,
    replicaTimeoutMs: o.replicaTimeoutMs,
    readRepairChance: o.readRepairChance,
    speculativeReadMs: o.speculativeReadMs,
    internalRpc: o.internalRpc as boolean,
    slowBodyWindowMs: o.slowBodyWindowMs,
    minBodyBytesPerSec: o.minBodyBytesPerS,
    kvMaxBatchKeys: o.kvMaxBatchKeys,
    kvMaxBatchBytes: o.kvMaxBatchBytes,
    kvConcurrency: o.kvConcurrency,
    corsOrigins: Object.freeze(o.corsOrigins as string[]),
    region: o.region,
    accessRefreshMs: o.accessRefreshMs,
    accessStaleMs: o.accessStaleMs,
    previousSecret: o.previousSecretFile ? loadSecret(o.previousSecretFile, {}) : undefined,
    logLevel: o.logLevel,
    s3Port: o.s3Port as number | undefined,
    s3Domain: o.s3Domain as string | undefined,
    s3UploadTtlMs: o.s3UploadTtlMs as number,
    metricsToken: o.metricsToken as string | undefined,
    metrics: o.metrics as boolean,
    serverTiming: o.serverTiming as boolean,
    drainMs: o.drainMs as number,
    stopTimeoutMs: o.stopTimeoutMs as number,
    tls: tlsFiles ? MemberTls.load(tlsFiles, id) : undefined,
    publicTls: o.publicTlsCert ? { cert: readFileSync(o.publicTlsCert as string), key: readFileSync(o.publicTlsKey as string) } : undefined,
  })
}

/**
 * `--cors-origins` as a list of exact origins (`scheme://host[:port]`, http or https, no path).
 * `*`, paths, trailing slashes and other schemes are refused, naming the offending entry.
 */
export function parseCorsOrigins(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      let url: URL | undefined
      try {
        url = new URL(s)
      } catch {}
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== s) {
        throw new InvalidArgumentError(`--cors-origins takes exact origins like https://app.example.com (no path, no "*"); got ${JSON.stringify(s)}`)
      }
      return s
    })
}
