/**
 * The data-plane transport between proxy and nodes (and node to node for handoff and reaping):
 * plain node:http with a keep-alive agent, a member signature on every request, bounded connect and
 * idle timeouts (never a total timeout on a streamed body), and streamed bodies both ways.
 * got costs several times node:http's CPU per request and a quorum read makes several internal
 * requests, so the hot path uses this; got serves the gossip control plane (see
 * docs/decisions/0009-node-http-over-got.md). With `tls`, node:https with this member's certificate
 * (mutual TLS: shared/tls/member-tls.ts), and a node must present the certificate of the member dialled.
 */
import http, { type IncomingMessage } from 'node:http'
import https from 'node:https'
import { pipeline, type Readable } from 'node:stream'
import { type MemberTls, serverIdentityCheck } from '../tls/member-tls.js'
import type { MemberSigner } from './member-signer.js'

export interface InternalTransportInit {
  signer: MemberSigner
  /** Longest silence on a socket (connecting included) before the request fails: a stopped node. */
  idleTimeoutMs?: number
  maxSockets?: number
  /** Member links over mutual TLS (--tls-cert/--tls-key/--tls-ca); absent: plain HTTP. */
  tls?: MemberTls | undefined
}

export interface InternalRequest {
  /** host:port */
  address: string
  /** The member id expected at `address`, bound into the signature (absent: the address is). */
  target?: string | undefined
  method: 'GET' | 'PUT' | 'POST' | 'DELETE'
  /** Path with its query string, as signed. */
  path: string
  headers?: Record<string, string>
  body?: Buffer | string | Readable
  /** Bound on the wait for the answer's headers (the whole exchange for small bodies); a streamed answer body is bounded only by the idle timeout. */
  totalTimeoutMs?: number
}

export class InternalTransport {
  private readonly agent: http.Agent

  /** Signs for this member; its clocks are what the transport learned of its peers'. */
  get signer(): MemberSigner {
    return this.init.signer
  }

  constructor(private readonly init: InternalTransportInit) {
    const pool = { keepAlive: true, keepAliveMsecs: 10_000, maxSockets: init.maxSockets ?? 256, scheduling: 'lifo' } as const
    this.agent = init.tls ? new https.Agent({ ...pool, ...init.tls.credentials() }) : new http.Agent(pool)
  }

  /**
   * Send a request; resolves with the response (body still streaming) once its headers arrive.
   * A request refused for its timestamp (first contact with a member whose clock differs, or a
   * stepped clock) is sent once more on the clock its answer proved, when its body can be resent.
   */
  async request(r: InternalRequest): Promise<IncomingMessage> {
    const res = await this.send(r)
    const replayable = r.body === undefined || Buffer.isBuffer(r.body) || typeof r.body === 'string'
    if (res.statusCode === 401 && res.stale && replayable) {
      res.resume()
      return this.send(r)
    }
    return res
  }

  private send(r: InternalRequest): Promise<IncomingMessage & { stale?: boolean }> {
    const colon = r.address.lastIndexOf(':')
    const known = Buffer.isBuffer(r.body) || typeof r.body === 'string' ? r.body : r.body === undefined ? '' : undefined
    const signed = this.init.signer.sign(r.method, r.path, r.address, r.target, r.headers ?? {}, known)
    const headers = signed.headers
    if (known !== undefined && (known.length > 0 || r.method !== 'GET')) headers['content-length'] = String(Buffer.byteLength(known))
    return new Promise((resolve, reject) => {
      const options = {
        host: r.address.slice(0, colon),
        port: Number(r.address.slice(colon + 1)),
        method: r.method,
        path: r.path,
        headers,
        agent: this.agent,
        timeout: this.init.idleTimeoutMs ?? 10_000,
      }
      // A new connection checks that the node's certificate names the member dialled (a kept-alive one was checked when
      // opened: the pool is per address, and an address is one member's).
      const req = this.init.tls ? https.request({ ...options, checkServerIdentity: serverIdentityCheck(r.target) }) : http.request(options)
      let total: NodeJS.Timeout | undefined
      if (r.totalTimeoutMs) total = setTimeout(() => req.destroy(new Error(`no answer within ${r.totalTimeoutMs} ms`)), r.totalTimeoutMs)
      req.once('timeout', () => req.destroy(new Error('socket idle timeout')))
      req.once('error', (err) => {
        clearTimeout(total)
        reject(err)
      })
      req.once('response', (res: IncomingMessage & { stale?: boolean }) => {
        clearTimeout(total)
        const timed = this.init.signer.learn(r.address, signed, (name) => headerOf(res, name), res.statusCode === 401)
        res.stale = timed && res.statusCode === 401
        resolve(res)
      })
      if (r.body === undefined) req.end()
      else if (Buffer.isBuffer(r.body) || typeof r.body === 'string') req.end(r.body)
      else {
        // pipeline: a failing request destroys the body (its file descriptor, its socket) and vice versa.
        pipeline(r.body, req, (err) => {
          if (err) req.destroy(err)
        })
      }
    })
  }

  /** Send a request and read its whole (small) answer as text. */
  async text(r: InternalRequest): Promise<{ status: number; body: string }> {
    const res = await this.request(r)
    res.setEncoding('utf8')
    let body = ''
    for await (const chunk of res) body += chunk
    return { status: res.statusCode ?? 0, body }
  }

  close(): void {
    this.agent.destroy()
  }
}

function headerOf(res: IncomingMessage, name: string): string | undefined {
  const v = res.headers[name]
  return typeof v === 'string' ? v : undefined
}
