/** Direct, signed reads of one storage node's internal API, for tests that check what a replica holds. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { NodeClient } from '../../shared/http/node-client.js'
import { InternalTransport } from '../../shared/http/internal-transport.js'
import { MemberSigner } from '../../shared/http/member-signer.js'
import type { Version } from '../../shared/wire/internal-api.js'
import type { TestCluster } from '../../devtools/test-cluster.js'
import { LAUNCHER_MEMBER, tlsDir } from '../../cluster-ctl/launcher.js'
import { memberFiles } from '../../shared/tls/member-certs.js'
import { MemberTls } from '../../shared/tls/member-tls.js'

export function clusterSecret(cluster: TestCluster): string {
  return readFileSync(join(cluster.layout.runDir, 'cluster.secret'), 'utf8').trim()
}

/** A member identity for tests that talk to nodes directly. */
export function testSigner(secret: string, selfId = 'test-client'): MemberSigner {
  return new MemberSigner({ secret, selfId })
}

/** A client of the nodes' internal API; on a cluster with TLS it signs as, and shows the certificate of, the launcher (a member id of run/tls). */
export function internalClient(cluster: TestCluster): NodeClient {
  if (!cluster.layout.tls) return new NodeClient(new InternalTransport({ signer: testSigner(clusterSecret(cluster)) }))
  const tls = MemberTls.load(memberFiles(tlsDir(cluster.layout), LAUNCHER_MEMBER), LAUNCHER_MEMBER)
  return new NodeClient(new InternalTransport({ signer: testSigner(clusterSecret(cluster), LAUNCHER_MEMBER), tls }))
}

export function nodeRef(cluster: TestCluster, id: string): { id: string; address: string } {
  return { id, address: `127.0.0.1:${cluster.layout.nodePorts[Number(id.replace('node-', '')) - 1]}` }
}

export async function heldBy(cluster: TestCluster, id: string, bucket: string, key: string): Promise<Version[]> {
  return (await internalClient(cluster).versions(nodeRef(cluster, id), bucket, key)).versions
}

export async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms`)
}
