/**
 * The got instance every internal call goes through: keep-alive agents, no automatic retries
 * (quorum logic decides what to retry), bounded connect and idle timeouts (never a total timeout,
 * so large streamed bodies are not cut), and an HMAC signature on every request.
 */
import http from 'node:http'
import got, { type Got } from 'got'
import { HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP } from '../wire/headers.js'
import { newNonce, signRequest } from './signing.js'

export interface SignedClientInit {
  secret: string
  /** Connection setup limit; a dead host fails fast. */
  connectTimeoutMs?: number
  /** Longest silence on a socket before the request fails (a stopped node). */
  idleTimeoutMs?: number
  maxSockets?: number
}

export function createSignedClient(init: SignedClientInit): Got {
  const agent = new http.Agent({ keepAlive: true, maxSockets: init.maxSockets ?? 256, keepAliveMsecs: 10_000 })
  return got.extend({
    agent: { http: agent },
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    decompress: false,
    timeout: { connect: init.connectTimeoutMs ?? 1000, socket: init.idleTimeoutMs ?? 10_000 },
    hooks: {
      beforeRequest: [
        (options) => {
          const url = options.url as URL
          const stamp = { method: options.method, path: url.pathname + url.search, timestampMs: Date.now(), nonce: newNonce() }
          options.headers[HEADER_TIMESTAMP] = String(stamp.timestampMs)
          options.headers[HEADER_NONCE] = stamp.nonce
          options.headers[HEADER_SIGNATURE] = signRequest(init.secret, stamp)
        },
      ],
    },
  })
}
