/**
 * Trust a cluster's CA (run/tls/ca.crt, TLS=on) in this process, beside the system roots: for the
 * global fetch (its undici dispatcher, replaced by one of the same class with the CA added) and for
 * node:https's global agent. The launcher calls it when it starts a cluster with TLS, so the tests'
 * helpers, the bench and the launcher's own requests reach the proxy's HTTPS port as they reach the
 * plain one. A process that only runs commands (./dynamoctl) gets NODE_EXTRA_CA_CERTS instead.
 * Test and tooling processes only: a server never changes its trust this way.
 */
import https from 'node:https'
import { rootCertificates } from 'node:tls'

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1')
const trusted = new Set<string>()

interface DispatcherClass {
  new (opts: { connect: { ca: string[] } }): object
}

export function trustCa(pem: string): void {
  if (trusted.has(pem)) return
  trusted.add(pem)
  const ca = [...rootCertificates, ...trusted]
  https.globalAgent.options.ca = ca
  // fetch creates its global dispatcher on first use: make sure it exists, then swap in one that trusts `ca`.
  void fetch('data:,').catch(() => undefined)
  const g = globalThis as unknown as Record<symbol, object | undefined>
  const current = g[GLOBAL_DISPATCHER]
  if (!current) throw new Error('no fetch dispatcher to extend: this Node has no bundled undici Agent')
  const Agent = current.constructor as DispatcherClass
  g[GLOBAL_DISPATCHER] = new Agent({ connect: { ca } })
}
