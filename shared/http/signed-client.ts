/**
 * The got instance of the gossip control plane: keep-alive agents, no automatic retries (gossip
 * rounds are the retries), bounded connect and idle timeouts, and a member signature on every
 * request (see member-signer.ts), for the member named in the request's `context.target` (else
 * for its address); answers teach the signer the peer's clock. With `tls`, member links are mutual
 * TLS (shared/tls/member-tls.ts): an http:// URL is sent as https://, with this member's certificate.
 */
import http from 'node:http'
import https from 'node:https'
import got, { type Got } from 'got'
import { type MemberTls, serverIdentityCheck } from '../tls/member-tls.js'
import type { MemberSigner, SignedRequest } from './member-signer.js'

export interface SignedClientInit {
  signer: MemberSigner
  /** Connection setup limit; a dead host fails fast. */
  connectTimeoutMs?: number
  /** Longest silence on a socket before the request fails (a stopped node). */
  idleTimeoutMs?: number
  maxSockets?: number
  /** Member links over mutual TLS; absent: as the URL says (https:// to a proxy's public port checks its certificate as usual). */
  tls?: MemberTls | undefined
}

export function createSignedClient(init: SignedClientInit): Got {
  const pool = { keepAlive: true, maxSockets: init.maxSockets ?? 256, keepAliveMsecs: 10_000 }
  const tls = init.tls
  return got.extend({
    agent: { http: new http.Agent(pool), ...(tls ? { https: new https.Agent({ ...pool, ...tls.credentials() }) } : {}) },
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    decompress: false,
    timeout: { connect: init.connectTimeoutMs ?? 1000, socket: init.idleTimeoutMs ?? 10_000 },
    hooks: {
      beforeRequest: [
        (options) => {
          let url = options.url as URL
          const target = typeof options.context.target === 'string' ? options.context.target : undefined
          if (tls && url.protocol === 'http:') {
            url = new URL(url.href.replace(/^http:/, 'https:'))
            options.url = url
            options.https = { ...options.https, checkServerIdentity: serverIdentityCheck(target) }
          }
          const body = typeof options.body === 'string' || Buffer.isBuffer(options.body) ? options.body : options.body === undefined ? '' : undefined
          const headers: Record<string, string> = {}
          for (const [k, v] of Object.entries(options.headers)) if (typeof v === 'string') headers[k.toLowerCase()] = v
          const signed = init.signer.sign(options.method, url.pathname + url.search, url.host, target, headers, body)
          Object.assign(options.headers, signed.headers)
          options.context = { ...options.context, signed }
        },
      ],
      afterResponse: [
        (response) => {
          const signed = response.request.options.context.signed as SignedRequest | undefined
          if (signed) {
            const url = response.request.options.url as URL
            init.signer.learn(
              url.host,
              signed,
              (name) => {
                const v = response.headers[name]
                return typeof v === 'string' ? v : undefined
              },
              response.statusCode === 401,
            )
          }
          return response
        },
      ],
    },
  })
}
