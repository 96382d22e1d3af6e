/** SlowBodyGuard on a real socket: trickling bodies get 408, steady ones and server-side waits do not. */
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import test from 'ava'
import Koa from 'koa'
import { SlowBodyGuard } from '../../../shared/http/slow-body-guard.js'

/** A server whose handler waits `delayMs`, then reads the whole body with an async iterator (as readWhole does). */
async function server(delayMs = 0) {
  const guard = new SlowBodyGuard({ windowMs: 300, minBytesPerSec: 200 })
  const app = new Koa()
  app.use(async (ctx, next) => {
    try {
      await next()
    } catch {
      if (!ctx.res.headersSent) ctx.status = 499
    }
  })
  app.use(guard.middleware())
  app.use(async (ctx) => {
    await new Promise((r) => setTimeout(r, delayMs))
    let n = 0
    for await (const c of ctx.req as AsyncIterable<Buffer>) n += c.length
    ctx.body = String(n)
  })
  const srv = app.listen(0, '127.0.0.1')
  await new Promise((r) => srv.once('listening', r))
  return {
    port: (srv.address() as AddressInfo).port,
    close: () => {
      guard.stop()
      srv.closeAllConnections()
      srv.close()
    },
  }
}

/** Send `total` bytes in `step`-byte pieces every `everyMs`; resolve with the status (0 for a reset) and body. */
function send(port: number, total: number, step: number, everyMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/', agent: false, headers: { 'content-length': total } }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => {
        body += d
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', () => resolve({ status: 0, body: '' }))
    let sent = 0
    const drip = setInterval(() => {
      if (sent >= total || req.destroyed) return clearInterval(drip)
      const n = Math.min(step, total - sent)
      req.write(Buffer.alloc(n, 0x61))
      sent += n
      if (sent >= total) req.end()
    }, everyMs)
  })
}

test('a small body trickling under the minimum rate, read by an async iterator, gets 408 (not a reset)', async (t) => {
  const s = await server()
  try {
    const r = await send(s.port, 100, 2, 100) // 20 bytes/s
    t.is(r.status, 408)
    t.regex(r.body, /RequestTimeout/)
  } finally {
    s.close()
  }
})

test('a steady body above the minimum rate is not cut', async (t) => {
  const s = await server()
  try {
    const r = await send(s.port, 1000, 50, 100) // 500 bytes/s for 2 s
    t.is(r.status, 200)
    t.is(r.body, '1000')
  } finally {
    s.close()
  }
})

test('a server that does not read yet (bytes waiting in its buffer) does not blame the client', async (t) => {
  const s = await server(1200)
  try {
    const r = await send(s.port, 400, 400, 10) // all at once, then the server waits 1.2 s before reading
    t.is(r.status, 200)
    t.is(r.body, '400')
  } finally {
    s.close()
  }
})
