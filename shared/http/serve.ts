/** Start an HTTP (or HTTPS) server for a Koa app with the timeouts both processes use. */
import type { Server } from 'node:http'
import https from 'node:https'
import type { TlsOptions } from 'node:tls'
import type Koa from 'koa'
import type { Logger } from '../log.js'
import { logRefusedHandshakes } from '../tls/handshake-log.js'

/**
 * Listen on host:port. No bound on a whole request (large bodies stream for as long as they
 * flow), but a socket silent for 2 minutes is closed and headers must arrive within 20 s; idle
 * keep-alive sockets live 65 s. A body that trickles is cut by the proxy's SlowBodyGuard.
 * With `tls`, HTTPS (a node's member port asks for client certificates: shared/tls/member-tls.ts);
 * the server has http.Server's API either way; with `log`, refused handshakes are logged there.
 */
export async function serve(app: Koa, host: string, port: number, tls?: TlsOptions, log?: Logger): Promise<Server> {
  let server: Server
  if (tls) {
    const secure = https.createServer(tls, app.callback())
    // Refused handshakes (no certificate, another CA, plain HTTP) are logged, not silent.
    if (log) logRefusedHandshakes(secure, log, port)
    server = secure.listen(port, host) as unknown as Server
  } else server = app.listen(port, host)
  server.keepAliveTimeout = 65_000
  server.requestTimeout = 0
  server.headersTimeout = 20_000
  server.setTimeout(120_000)
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject))
  return server
}
