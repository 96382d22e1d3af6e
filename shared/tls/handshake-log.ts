/**
 * Refused TLS handshakes on a port, in the log: a peer with no certificate, one the CA did not sign
 * or one revoked, plain HTTP on a TLS port, a protocol mismatch. Without this they are silent (Node
 * closes the socket), so a misconfigured member or a stranger knocking looks like nothing at all.
 * One line per remote address at most every `intervalMs`, with how many were refused since, so a
 * flood cannot fill the disk.
 */
import type { Socket } from 'node:net'
import type { Server } from 'node:tls'
import type { Logger } from '../log.js'

/** Remote addresses remembered at once (past it the table starts over: a few extra lines, never unbounded memory). */
const MAX_REMOTES = 10_000

export interface HandshakeRefusals {
  /** Handshakes refused since start. */
  refused: number
}

export function logRefusedHandshakes(server: Server, log: Logger, port: number, intervalMs = 60_000): HandshakeRefusals {
  const counts: HandshakeRefusals = { refused: 0 }
  const last = new Map<string, { at: number; since: number }>()
  // Read at accept, so the TCP socket has its peer's address cached when the TLS socket over it has
  // lost its own (a peer that hung up mid-handshake).
  server.on('connection', (raw: Socket) => void raw.remoteAddress)
  server.on('tlsClientError', (err: Error & { code?: string }, socket: Socket & { _parent?: Socket }) => {
    counts.refused++
    const remote = socket.remoteAddress ?? socket._parent?.remoteAddress ?? 'unknown'
    const now = Date.now()
    const seen = last.get(remote)
    if (seen && now - seen.at < intervalMs) {
      seen.since++
      return
    }
    if (last.size >= MAX_REMOTES) last.clear()
    last.set(remote, { at: now, since: 0 })
    log.warn({ port, remote, code: err.code, reason: err.message, refusedSinceLastLine: seen?.since ?? 0 }, 'TLS handshake refused')
  })
  return counts
}
