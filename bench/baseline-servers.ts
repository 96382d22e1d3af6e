/**
 * The baseline's servers (bench/baseline-coordinator.ts starts each in its own process): a bare
 * node:http coordinator that forwards to 3 backends and answers after 2 (or writes in two rounds),
 * and a backend that consumes bodies and stores nothing, or stores them durably (the floors).
 */
import http from 'node:http'
import type { DurableStore } from './floor-stores.js'

const SMALL_GET_BYTES = 4096
/** Above this a losing backend's GET answer is aborted rather than read to the end. */
const DRAIN_LIMIT = 64 * 1024
const FILL = Buffer.alloc(64 * 1024, 0x61)

/** A backend's PUT: consume the body, then answer; `store` (the durable floor) keeps it first, and answers GETs from it. */
export function backendServer(store?: DurableStore): http.Server {
  return http.createServer((req, res) => {
    if (store && req.method !== 'GET' && req.method !== 'PUT') {
      req.resume()
      return void res.writeHead(405, { allow: 'GET, PUT', 'content-length': 0 }).end()
    }
    if (req.method === 'GET' && store) {
      const held = store.get(req.url ?? '/')
      if (!held) return void res.writeHead(404, { 'content-length': 0 }).end()
      return void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': held.length }).end(held)
    }
    if (req.method === 'GET') {
      const size = Number(req.headers['x-bench-size'] ?? SMALL_GET_BYTES)
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size })
      let left = size
      const pump = (): void => {
        while (left > 0) {
          const chunk = left >= FILL.length ? FILL : FILL.subarray(0, left)
          left -= chunk.length
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
        res.end()
      }
      res.once('close', () => {
        left = 0
      })
      return pump()
    }
    let bytes = 0
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => {
      bytes += c.length
      if (store) chunks.push(c)
    })
    req.once('end', () => {
      const answer = (status: number): void => {
        const body = JSON.stringify({ ok: status === 200, bytes })
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        res.end(body)
      }
      if (!store) return answer(200)
      store.put(req.url ?? '/', Buffer.concat(chunks)).then(
        () => answer(200),
        () => answer(500),
      )
    })
  })
}

/** Send a whole body to a backend; resolves with its status (502 for a transport error), its answer read to the end. */
function sendWhole(agent: http.Agent, port: number, req: http.IncomingMessage, body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const headers: http.OutgoingHttpHeaders = { 'content-length': body.length }
    if (req.headers['content-type'] !== undefined) headers['content-type'] = req.headers['content-type']
    const out = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers, agent }, (r) => {
      r.once('error', () => resolve(502))
      r.once('end', () => resolve(r.statusCode ?? 502))
      r.resume()
    })
    out.once('error', () => resolve(502))
    out.end(body)
  })
}

/** A PUT in two rounds (see the file's head): the first backend in turn, then the other two; answered after `quorum` in all. */
function twoRoundPut(agent: http.Agent, backends: readonly number[], quorum: number, first: number, req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.once('end', () => {
    const body = Buffer.concat(chunks)
    const order = [...backends.slice(first), ...backends.slice(0, first)]
    const reply = (status: number, written: number): void => {
      const json = JSON.stringify({ success: status === 201, replicas_written: written })
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json)
    }
    void sendWhole(agent, order[0] as number, req, body).then((status) => {
      if (status >= 300) return reply(502, 0)
      let written = 1
      let failed = 0
      let done = false
      for (const port of order.slice(1)) {
        void sendWhole(agent, port, req, body).then((st) => {
          if (done) return
          if (st < 300 && ++written >= quorum) {
            done = true
            reply(201, written)
          } else if (st >= 300 && ++failed > order.length - quorum) {
            done = true
            reply(502, written)
          }
        })
      }
    })
  })
}

export function coordinatorServer(backends: readonly number[], quorum = 2, twoRounds = false): http.Server {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 })
  let turn = 0
  return http.createServer((req, res) => {
    if (twoRounds && req.method === 'PUT') return twoRoundPut(agent, backends, quorum, turn++ % backends.length, req, res)
    let answered = 0
    let failed = 0
    let done = false
    let held: http.IncomingMessage | undefined
    const isGet = req.method === 'GET' || req.method === 'HEAD'
    const headers: http.OutgoingHttpHeaders = {}
    for (const h of ['content-type', 'content-length', 'x-bench-size']) if (req.headers[h] !== undefined) headers[h] = req.headers[h]
    const fail = (): void => {
      if (done || ++failed <= backends.length - quorum) return
      done = true
      res.writeHead(502, { 'content-type': 'application/json' }).end('{"ok":false}')
    }
    const discard = (r: http.IncomingMessage): void => {
      if (Number(r.headers['content-length'] ?? 0) > DRAIN_LIMIT) r.destroy()
      else r.resume()
    }
    const outs = backends.map((port) => {
      const out = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers, agent })
      // A backend fails at most once, whichever of its errors or its answer says so.
      let failedHere = false
      const failHere = (): void => {
        if (failedHere) return
        failedHere = true
        fail()
      }
      out.on('error', failHere)
      out.once('response', (r) => {
        r.on('error', failHere)
        if (done) return discard(r)
        if (isGet) {
          if (++answered < quorum) {
            held = r
            return
          }
          done = true
          discard(r)
          const chosen = held ?? r
          res.writeHead(chosen.statusCode ?? 502, { 'content-type': 'application/octet-stream', 'content-length': chosen.headers['content-length'] ?? 0 })
          chosen.pipe(res)
          return
        }
        r.resume()
        // A backend that did not store (the durable floor's 500) is a failed replica, not a written one.
        if ((r.statusCode ?? 502) >= 300) return failHere()
        r.once('end', () => {
          if (done || ++answered < quorum) return
          done = true
          const body = JSON.stringify({ success: true, replicas_written: answered })
          res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
        })
      })
      return out
    })
    res.once('close', () => {
      if (held && !held.complete) held.destroy()
    })
    if (isGet) {
      for (const o of outs) o.end()
      return
    }
    // Tee the body to every backend, pausing the client while any of them is behind.
    req.on('data', (chunk: Buffer) => {
      const behind = outs.filter((o) => !o.destroyed && !o.write(chunk))
      if (behind.length === 0) return
      req.pause()
      void Promise.all(behind.map(drained)).then(() => req.resume())
    })
    req.once('end', () => {
      for (const o of outs) if (!o.destroyed) o.end()
    })
    req.once('error', () => {
      for (const o of outs) o.destroy()
    })
  })
}

/** Resolves when a request that refused a write can take more (or is gone); leaves no listener behind. */
function drained(o: http.ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      o.off('drain', done)
      o.off('close', done)
      resolve()
    }
    o.on('drain', done)
    o.on('close', done)
  })
}
