/**
 * The baseline: the least work any N=3, W=2 (R=2) coordinator on this machine must do. A bare
 * node:http coordinator forwards each request to 3 bare backends over keep-alive connections and
 * answers once 2 have answered; the backends store nothing. PUT: the body is streamed to all 3
 * (paced by the slowest), the backends consume it and answer a small JSON. GET: the backends
 * answer `x-bench-size` bytes (4 KiB by default); after 2 answers the coordinator streams one.
 * Each server is its own process (as the cluster's are), started by `startBaseline()`; children
 * exit when the parent's IPC channel closes, so a killed bench leaves nothing behind.
 *
 * `startBaseline({ durable: 'lmdb' })` is the *durable floor* and `{ durable: 'log' }` the *log
 * floor*: the same coordinator, with backends that store every PUT body under its path (in LMDB
 * group-committed as a storage node commits, or in an append-only file with one fdatasync per
 * group; see bench/floor-stores.ts) and answer once it is on disk, and answer GETs from it. See
 * bench/durable-floor.ts.
 *
 * `startBaseline({ durable: 'lmdb', twoRounds: true })` writes in two rounds as a Dynamo write does
 * (the cluster's coordinate, then replicate): a PUT's body (held whole: small objects) goes to one
 * backend, the next of the three in turn, and only once that one has stored it to the other two;
 * the answer follows the first of those. What the structure alone costs a durable store, with none
 * of the cluster's versions, clocks or checks.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve as resolvePath } from 'node:path'
import { createInterface } from 'node:readline'
import { serverEnv } from '../cluster-ctl/malloc-env.js'
import { isMain, parseChoice, parseCommandLineOrExit, parseIntList, scriptCommand } from '../devtools/command-line.js'
import { serverV8Flags } from '../cluster-ctl/v8-flags.js'
import { type DurableStore, FLOOR_STORES, type FloorStore, openFloorStore } from './floor-stores.js'

const SMALL_GET_BYTES = 4096
/** Above this a losing backend's GET answer is aborted rather than read to the end. */
const DRAIN_LIMIT = 64 * 1024
const FILL = Buffer.alloc(64 * 1024, 0x61)

export interface Baseline {
  url: string
  procs: { name: string; pid: number }[]
  /** The backends, each reachable directly (the durable floor's answer GETs from their own store). */
  backendUrls: string[]
  /** The durable floor's data (removed by stop); undefined for the bare baseline. */
  dataDir?: string | undefined
  stop(): Promise<void>
}

/** A backend's PUT: consume the body, then answer; `store` (the durable floor) keeps it first, and answers GETs from it. */
function backendServer(store?: DurableStore): http.Server {
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

function coordinatorServer(backends: readonly number[], quorum = 2, twoRounds = false): http.Server {
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

/** Spawn one role of this file as a child process; resolves with its pid and port once it listens. */
function spawnRole(name: string, args: string[]): Promise<{ child: ChildProcess; name: string; port: number }> {
  const child = spawn(process.execPath, [...serverV8Flags(process.env), '--import=tsx', import.meta.filename, ...args], {
    cwd: resolvePath(import.meta.dirname, '..'),
    // The same malloc settings and V8 flags as the cluster's processes (cluster-ctl/malloc-env.ts, v8-flags.ts): a fair comparison.
    env: serverEnv(process.env),
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`baseline ${name} did not start within 20 s`))
    }, 20_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`baseline ${name} exited with ${code}`))
    })
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    lines.once('line', (line) => {
      clearTimeout(timer)
      const port = Number((JSON.parse(line) as { port?: unknown }).port)
      if (Number.isInteger(port) && port > 0) resolve({ child, name, port })
      else reject(new Error(`baseline ${name} said ${line}`))
    })
  })
}

/**
 * Start 3 backends and the coordinator, each a child process on a free port; `durable`: the durable
 * floor with that store (data in a temp dir, removed by stop); `twoRounds`: PUTs written in two
 * rounds (see the file's head).
 */
export async function startBaseline(opts: { durable?: FloorStore; twoRounds?: boolean } = {}): Promise<Baseline> {
  const started: { child: ChildProcess; name: string; port: number }[] = []
  const dataDir = opts.durable ? mkdtempSync(join(tmpdir(), 'dynamo-floor-')) : undefined
  const stop = async (): Promise<void> => {
    await Promise.all(
      started.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            child.once('exit', () => resolve())
            child.kill('SIGKILL')
          }),
      ),
    )
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  }
  try {
    const storeArgs = (i: number): string[] => (dataDir && opts.durable ? ['--data', join(dataDir, `backend-${i}`), '--store', opts.durable] : [])
    for (let i = 1; i <= 3; i++) started.push(await spawnRole(`backend-${i}`, ['--role', 'backend', ...storeArgs(i)]))
    const ports = started.map((s) => s.port).join(',')
    started.push(await spawnRole('coordinator', ['--role', 'coordinator', '--backends', ports, ...(opts.twoRounds ? ['--two-rounds'] : [])]))
  } catch (err) {
    await stop()
    throw err
  }
  for (const s of started) s.child.removeAllListeners('exit')
  const coordinator = started[started.length - 1] as { port: number }
  const kind = `${opts.durable === 'log' ? 'log-floor' : opts.durable ? 'floor' : 'baseline'}${opts.twoRounds ? '-2rounds' : ''}`
  return {
    url: `http://127.0.0.1:${coordinator.port}`,
    procs: started.map((s) => ({ name: `${kind}-${s.name}`, pid: s.child.pid as number })),
    backendUrls: started.slice(0, -1).map((s) => `http://127.0.0.1:${s.port}`),
    dataDir,
    stop,
  }
}

/** A child's role, from the arguments startBaseline gives it. */
function roleCommand() {
  return scriptCommand('bench/baseline-coordinator.ts', 'One process of the baseline (started by startBaseline())')
    .requiredOption('--role <role>', 'coordinator or backend', parseChoice('coordinator', 'backend'))
    .option('--backends <ports>', "the backends' ports, comma-separated (coordinator)", parseIntList(1, 65535), [])
    .option('--two-rounds', 'write to one backend, then the other two (coordinator)', false)
    .option('--data <dir>', 'where a durable backend stores bodies (none: it stores nothing)')
    .option('--store <kind>', `the durable backend's store: ${FLOOR_STORES.join(', ')}`, parseChoice(...FLOOR_STORES), 'lmdb')
}

function main(argv: readonly string[]): void {
  const o = parseCommandLineOrExit(roleCommand(), argv).opts<{ role: 'coordinator' | 'backend'; backends: number[]; twoRounds: boolean; data?: string; store: FloorStore }>()
  const server = o.role === 'coordinator' ? coordinatorServer(o.backends, 2, o.twoRounds) : backendServer(o.data ? openFloorStore(o.store, o.data) : undefined)
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`)
  })
  process.once('disconnect', () => process.exit(0))
}

if (isMain(import.meta.url)) main(process.argv.slice(2))
