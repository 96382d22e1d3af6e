/** Waiting for a cluster's processes: healthy (their /health answers 200), and nodes no longer joining the ring. */
import http from 'node:http'
import https from 'node:https'
import { HEADER_PROTOCOL, PROTOCOL_VERSION } from '../shared/wire/protocol.js'

/** What a client shows a cluster with TLS: its CA, and a member certificate for the nodes' member ports. */
export interface ClientTls {
  ca: Buffer
  cert?: Buffer
  key?: Buffer
}

/** Poll health URLs until each answers 200; throws naming the laggards after `timeoutMs`. `tls`: for https:// URLs (clientTls()). */
export async function waitHealthy(urls: readonly string[], timeoutMs = 30_000, tls?: ClientTls): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let pending = [...urls]
  while (pending.length > 0) {
    const results = await Promise.all(pending.map(async (u) => (await healthStatus(u, tls)) === 200))
    pending = pending.filter((_, i) => !results[i])
    if (pending.length === 0) return
    if (Date.now() > deadline) throw new Error(`not healthy after ${timeoutMs} ms: ${pending.join(', ')}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/**
 * Wait (at most `timeoutMs`) until no node of `urls` (their /health) is still joining the ring: a
 * new cluster's nodes each start joining and become members within a few gossip rounds
 * (storage-node/ring/join-check.ts), and a proxy started before then places keys on fewer nodes.
 * A node joining a cluster that holds data takes as long as its ranges take to stream: the URLs
 * still joining are returned, not thrown.
 */
export async function waitJoined(urls: readonly string[], timeoutMs = 10_000, tls?: ClientTls): Promise<string[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const states = await Promise.all(urls.map(async (u) => ringStateOf((await healthAnswer(u, tls)).body)))
    const joining = urls.filter((_, i) => states[i] === 'joining')
    if (joining.length === 0 || Date.now() > deadline) return joining
    await new Promise((r) => setTimeout(r, 100))
  }
}

function ringStateOf(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body)
    return typeof parsed === 'object' && parsed !== null && 'ring_state' in parsed ? String(parsed.ring_state) : undefined
  } catch {
    return undefined
  }
}

async function healthStatus(url: string, tls: ClientTls | undefined): Promise<number> {
  return (await healthAnswer(url, tls)).status
}

/** GET `url` once (1 s bound): its status (0 when unreachable) and body. node:http(s), so a node's TLS member port gets the launcher's certificate. */
function healthAnswer(url: string, tls: ClientTls | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const secure = url.startsWith('https:')
    // Announcing this build's protocol: a node shows a joining state only to those that can read it.
    const options = { timeout: 1000, agent: false as const, headers: { [HEADER_PROTOCOL]: String(PROTOCOL_VERSION) }, ...(secure && tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {}) }
    const req = (secure ? https : http).get(url, options, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        if (body.length < 1_000_000) body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', () => resolve({ status: 0, body: '' }))
    })
    req.once('timeout', () => req.destroy(new Error('timeout')))
    req.once('error', () => resolve({ status: 0, body: '' }))
  })
}
