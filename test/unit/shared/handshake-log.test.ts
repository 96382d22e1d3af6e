/** Refused TLS handshakes are logged once per remote address per interval, with the count refused since. */
import { EventEmitter } from 'node:events'
import type { Server } from 'node:tls'
import test from 'ava'
import type { Logger } from '../../../shared/log.js'
import { logRefusedHandshakes } from '../../../shared/tls/handshake-log.js'

function setup(intervalMs: number) {
  const lines: Record<string, unknown>[] = []
  const log = { warn: (o: Record<string, unknown>) => lines.push(o) } as unknown as Logger
  const server = new EventEmitter()
  const counts = logRefusedHandshakes(server as unknown as Server, log, 7000, intervalMs)
  const refuse = (remote: string | undefined, parentRemote?: string) =>
    server.emit('tlsClientError', Object.assign(new Error('peer did not return a certificate'), { code: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' }), {
      remoteAddress: remote,
      ...(parentRemote ? { _parent: { remoteAddress: parentRemote } } : {}),
    })
  return { lines, counts, refuse }
}

test('one line per remote address per interval; the next line says how many were refused since', (t) => {
  const { lines, counts, refuse } = setup(60_000)
  for (let i = 0; i < 5; i++) refuse('10.0.0.1')
  refuse('10.0.0.2')
  t.is(counts.refused, 6)
  t.deepEqual(
    lines.map((l) => [l.remote, l.port, l.code, l.refusedSinceLastLine]),
    [
      ['10.0.0.1', 7000, 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 0],
      ['10.0.0.2', 7000, 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 0],
    ],
  )
})

test('past the interval the address is logged again with the refusals it made meanwhile', (t) => {
  const { lines, refuse } = setup(0)
  refuse('10.0.0.1')
  refuse('10.0.0.1')
  t.is(lines.length, 2)
})

test('a socket that lost its address is named by the TCP socket under it, else "unknown"', (t) => {
  const { lines, refuse } = setup(60_000)
  refuse(undefined, '10.0.0.3')
  refuse(undefined)
  t.deepEqual(
    lines.map((l) => l.remote),
    ['10.0.0.3', 'unknown'],
  )
})
