/** Proxy entry point: parse config, wire the coordinator, learn membership, serve; SIGTERM stops it. */
import { InternalTransport } from '../shared/http/internal-transport.js'
import { MemberSigner } from '../shared/http/member-signer.js'
import { CLOCK_WARN_MS, PeerClocks } from '../shared/http/peer-clocks.js'
import { serve } from '../shared/http/serve.js'
import { SlowBodyGuard } from '../shared/http/slow-body-guard.js'
import { RequestVerifier } from '../shared/http/request-verifier.js'
import { acceptedKeys } from '../shared/http/signing.js'
import { createAccessLogger, createLogger, type Logger } from '../shared/log.js'
import { AccessAdmin } from './access/access-admin.js'
import { AccessCatalog } from './access/catalog.js'
import { SecretBox } from './access/secret-box.js'
import { createProxyApp } from './app.js'
import { BucketRegistry } from './buckets/bucket-registry.js'
import { parseProxyConfig } from './config.js'
import { Lister } from './coordinator/lister.js'
import { Explainer } from './coordinator/explainer.js'
import { NodeClient } from '../shared/http/node-client.js'
import { RpcClient } from '../shared/rpc/rpc-client.js'
import { ReadCoordinator } from './coordinator/read-coordinator.js'
import { ReadRepairer } from './coordinator/read-repair.js'
import { WriteCoordinator } from './coordinator/write-coordinator.js'
import { KvStore } from './kv/kv-store.js'
import { MembershipView } from './membership/membership-view.js'
import { ProxyMetrics } from './metrics/proxy-metrics.js'
import { startS3Endpoint } from './s3/server.js'
import { GracefulStop } from './lifecycle/graceful-stop.js'

async function main(): Promise<void> {
  let cfg: ReturnType<typeof parseProxyConfig>
  try {
    cfg = parseProxyConfig(process.argv.slice(2), process.env)
  } catch (err) {
    if ((err as { exitCode?: number }).exitCode === 0) process.exit(0)
    console.error(String((err as Error).message))
    process.exit(2)
  }
  const log = createLogger('proxy', cfg.logLevel)
  const accessLog = createAccessLogger('proxy', cfg.logLevel)
  const clocks = new PeerClocks(undefined, Date.now, (address, offsetMs) => {
    if (Math.abs(offsetMs) > CLOCK_WARN_MS) log.warn({ address, offsetMs }, `the clock of the node at ${address} is ${offsetMs} ms off this proxy's: check NTP on both`)
    else log.info({ address, offsetMs }, `the clock of the node at ${address} agrees with this proxy's again`)
  })
  const signer = new MemberSigner({ secret: cfg.secret, previousSecret: cfg.previousSecret, selfId: cfg.id, clocks })
  const nodes = new NodeClient(new InternalTransport({ signer, tls: cfg.tls }), cfg.internalRpc ? new RpcClient({ signer, tls: cfg.tls }) : undefined)
  const view = new MembershipView(nodes, { seeds: cfg.seeds, vnodes: cfg.vnodes, pollIntervalMs: cfg.membershipPollMs, localDownMs: cfg.localDownMs }, log.child({ component: 'membership' }))
  const repairer = new ReadRepairer(nodes, log.child({ component: 'read-repair' }), (id) => view.markFailed(id))
  // Read at request time from the access catalog (made below): a bucket's incarnation is its record's version id.
  const incarnationOf = (bucket: string): string | undefined => {
    try {
      return catalog.policy().bucket(bucket)?.incarnation
    } catch {
      return undefined
    }
  }
  const reader = new ReadCoordinator({ view, nodes, repairer, log, incarnationOf }, { n: cfg.n, fullReadChance: cfg.readRepairChance, speculateAfterMs: cfg.speculativeReadMs })
  const writer = new WriteCoordinator({ view, nodes, log, incarnationOf }, { n: cfg.n, maxObjectBytes: cfg.maxObjectBytes, postQuorumMs: cfg.postQuorumMs, replicaTimeoutMs: cfg.replicaTimeoutMs })
  const explainer = new Explainer({ view, nodes }, { n: cfg.n })
  const lister = new Lister(view, nodes, { n: cfg.n }, incarnationOf)
  const catalog = new AccessCatalog(view, nodes, { refreshMs: cfg.accessRefreshMs, staleMs: cfg.accessStaleMs }, log.child({ component: 'access-catalog' }))
  const box = new SecretBox(cfg.previousSecret ? [cfg.secret, cfg.previousSecret] : [cfg.secret])
  const admin = new AccessAdmin({ catalog, writer, box }, { w: cfg.w })
  const members = new RequestVerifier(acceptedKeys(cfg.secret, cfg.previousSecret), cfg.id, `${cfg.host}:${cfg.port}`)
  const buckets = new BucketRegistry({ catalog, admin, writer, lister })
  const kv = new KvStore({ reader, writer, lister }, { r: cfg.r, w: cfg.w, secret: cfg.secret, concurrency: cfg.kvConcurrency })
  const bodyGuard = new SlowBodyGuard({ windowMs: cfg.slowBodyWindowMs, minBytesPerSec: cfg.minBodyBytesPerSec })
  // With --metrics off nothing feeds it (no route, no middleware, no process metrics): only what other routes read of it.
  const metrics = new ProxyMetrics({ view, catalog, reader, repairer }, { processMetrics: cfg.metrics })
  const lifecycle = new GracefulStop(log.child({ component: 'lifecycle' }))
  const app = createProxyApp(
    { view, nodes, repairer, buckets, reader, writer, explainer, lister, kv, bodyGuard, catalog, box, members, admin, log, accessLog, metrics, lifecycle },
    { ...cfg, kv: { maxBatchKeys: cfg.kvMaxBatchKeys, maxBatchBytes: cfg.kvMaxBatchBytes } },
  )

  await view.start()
  await catalog.start()
  if (cfg.previousSecret) void resealAfterRotation(admin, log)
  const server = await serve(app, cfg.host, cfg.port, cfg.publicTls, log.child({ component: 'tls' }))
  lifecycle.track(server)
  log.info({ host: cfg.host, port: cfg.port, n: cfg.n, r: cfg.r, w: cfg.w, https: cfg.publicTls !== undefined, memberTls: cfg.tls !== undefined }, 'proxy started')
  const s3Components = { buckets, reader, writer, lister, catalog, box, bodyGuard, log: log.child({ component: 's3' }), accessLog, ...(cfg.metrics ? { metrics } : {}) }
  const s3 = cfg.s3Port === undefined ? undefined : await startS3Endpoint(s3Components, { ...cfg, port: cfg.s3Port, otherEndpointPort: cfg.port })
  if (s3) {
    lifecycle.track(s3.server)
    log.info({ host: cfg.host, port: cfg.s3Port, domain: cfg.s3Domain }, 'S3 endpoint started')
  }

  // Graceful (proxy/lifecycle/graceful-stop.ts): /health 503, drain, no new connections, requests in flight finish, exit.
  const stop = async (signal: string) => {
    if (lifecycle.isStopping) return
    log.info({ signal }, 'stopping')
    await lifecycle.stop({ drainMs: cfg.drainMs, timeoutMs: cfg.stopTimeoutMs })
    s3?.stop()
    view.stop()
    catalog.stop()
    bodyGuard.stop()
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
}

/** With --previous-secret-file: re-seal every key secret it sealed, once the catalog has been read. */
async function resealAfterRotation(admin: AccessAdmin, log: Logger): Promise<void> {
  try {
    const n = await admin.resealKeys()
    log.info({ resealed: n }, 'access-key secrets re-sealed with the current cluster secret')
  } catch (err) {
    log.warn({ err: String(err) }, 'access-key secrets not re-sealed yet: restart the proxy to try again')
  }
}

void main().catch((err) => {
  console.error(err)
  process.exit(1)
})
