/**
 * The baseline: the least work any N=3, W=2 (R=2) coordinator on this machine must do. A bare
 * node:http coordinator forwards each request to 3 bare backends over keep-alive connections and
 * answers once 2 have answered; the backends store nothing. PUT: the body is streamed to all 3
 * (paced by the slowest), the backends consume it and answer a small JSON. GET: the backends
 * answer `x-bench-size` bytes (4 KiB by default); after 2 answers the coordinator streams one.
 * Each server is its own process (as the cluster's are), started by `startBaseline()`; children
 * exit when the parent's IPC channel closes, so a killed bench leaves nothing behind.
 *
 * `startBaseline({ durable: 'lmdb' })` is the *durable floor*: the same coordinator, but each backend
 * stores every PUT body under its path in LMDB and answers once the write is on disk, group-committed
 * exactly as a storage node commits (storage-node/store/group-commit.ts: one transaction and one
 * sync per event-loop turn). No versions, clocks, checks or hints: the least a durable W=2, N=3
 * store written in Node must do here. See bench/durable-floor.ts.
 *
 * `startBaseline({ durable: 'log' })` is the *log floor*: the cheapest durable write we know of, one
 * append-only file per backend (Bitcask's shape: records of key length, body length, CRC-32, key
 * and body; the index in memory), each group of writes appended with one writev and one fdatasync.
 * It asks how much further than the LMDB floor a store other than LMDB could go on this machine.
 * It is a measuring stick, not a store to keep data in: nothing reads the log back after a restart.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { fdatasyncSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeSync, writevSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve as resolvePath } from 'node:path'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import { crc32 } from 'node:zlib'
import { open } from 'lmdb'
import { serverEnv } from '../cluster-ctl/malloc-env.js'
import { GroupCommit } from '../storage-node/store/group-commit.js'

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

/** The durable floor's store of one backend. */
interface DurableStore {
  /** Resolves once `body` is stored under `path` and on disk. */
  put(path: string, body: Buffer): Promise<void>
  get(path: string): Buffer | undefined
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

/** Bytes the log floor's file is extended by, zero-filled and synced ahead of the writes (so a group's fdatasync has no size or extent change to journal). */
const LOG_EXTENT_BYTES = 64 * 1024 * 1024
const LOG_RECORD_HEAD = 12

/**
 * The log floor's store: one append-only file in `dir`; each group of writes (those asked for in
 * one event-loop turn, like GroupCommit's) is appended with one writev and fdatasync'ed once, on the
 * main thread, before any of them resolves. Measured here against the same store syncing on
 * libuv's pool while the main thread goes on (README, "The durable floor"): the hand-off between
 * threads cost more CPU than the wait, and 4 KiB PUTs ran at 0.80-0.96x of this.
 */
function logStore(dir: string): DurableStore {
  mkdirSync(dir, { recursive: true })
  const fd = openSync(join(dir, 'log'), 'w+')
  const index = new Map<string, { at: number; length: number }>()
  const zeros = Buffer.alloc(1024 * 1024)
  let end = 0
  let allocated = 0
  let group: { path: string; body: Buffer; resolve: () => void; reject: (err: unknown) => void }[] = []
  const extendTo = (bytes: number): void => {
    while (allocated < bytes) {
      for (let at = 0; at < LOG_EXTENT_BYTES; at += zeros.length) writeSync(fd, zeros, 0, zeros.length, allocated + at)
      allocated += LOG_EXTENT_BYTES
    }
    fsyncSync(fd)
  }
  const commit = (): void => {
    const writes = group
    group = []
    const buffers: Buffer[] = []
    const places: { at: number; length: number }[] = []
    let at = end
    for (const w of writes) {
      const key = Buffer.from(w.path)
      const head = Buffer.allocUnsafe(LOG_RECORD_HEAD)
      head.writeUInt32BE(key.length, 0)
      head.writeUInt32BE(w.body.length, 4)
      head.writeUInt32BE(crc32(w.body, crc32(key)), 8)
      buffers.push(head, key, w.body)
      places.push({ at: at + LOG_RECORD_HEAD + key.length, length: w.body.length })
      at += LOG_RECORD_HEAD + key.length + w.body.length
    }
    try {
      if (at > allocated) extendTo(at)
      writevSync(fd, buffers, end)
      fdatasyncSync(fd)
    } catch (err) {
      for (const w of writes) w.reject(err)
      return
    }
    end = at
    writes.forEach((w, i) => {
      index.set(w.path, places[i] as { at: number; length: number })
      w.resolve()
    })
  }
  return {
    put: (path, body) =>
      new Promise<void>((resolve, reject) => {
        if (group.length === 0) setImmediate(commit)
        group.push({ path, body, resolve, reject })
      }),
    get: (path) => {
      const place = index.get(path)
      if (!place) return undefined
      const out = Buffer.allocUnsafe(place.length)
      readSync(fd, out, 0, place.length, place.at)
      return out
    },
  }
}

/** The durable floor's store: an LMDB environment in `dir`, every write group-committed and synced before it resolves. */
function durableStore(dir: string): DurableStore {
  const root = open({ path: dir, compression: false })
  const db = root.openDB<Buffer, string>({ name: 'objects', encoding: 'binary' })
  const group = new GroupCommit(root)
  return {
    put: (path, body) =>
      group.run(() => {
        db.put(path, body)
      }),
    get: (path) => db.get(path),
  }
}

function coordinatorServer(backends: readonly number[], quorum = 2): http.Server {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 })
  return http.createServer((req, res) => {
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
  const child = spawn(process.execPath, ['--import=tsx', import.meta.filename, ...args], {
    cwd: resolvePath(import.meta.dirname, '..'),
    // The same malloc settings as the cluster's processes (cluster-ctl/malloc-env.ts): a fair comparison.
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

export type FloorStore = 'lmdb' | 'log'

/** Start 3 backends and the coordinator, each a child process on a free port; `durable`: the durable floor with that store (data in a temp dir, removed by stop). */
export async function startBaseline(opts: { durable?: FloorStore } = {}): Promise<Baseline> {
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
    for (let i = 1; i <= 3; i++) started.push(await spawnRole(`backend-${i}`, ['--role', 'backend', ...(dataDir ? ['--data', join(dataDir, `backend-${i}`), '--store', opts.durable as FloorStore] : [])]))
    const ports = started.map((s) => s.port).join(',')
    started.push(await spawnRole('coordinator', ['--role', 'coordinator', '--backends', ports]))
  } catch (err) {
    await stop()
    throw err
  }
  for (const s of started) s.child.removeAllListeners('exit')
  const coordinator = started[started.length - 1] as { port: number }
  const kind = opts.durable === 'log' ? 'log-floor' : dataDir ? 'floor' : 'baseline'
  return {
    url: `http://127.0.0.1:${coordinator.port}`,
    procs: started.map((s) => ({ name: `${kind}-${s.name}`, pid: s.child.pid as number })),
    backendUrls: started.slice(0, -1).map((s) => `http://127.0.0.1:${s.port}`),
    dataDir,
    stop,
  }
}

function main(argv: readonly string[]): void {
  const role = argv[argv.indexOf('--role') + 1]
  const backends = (argv[argv.indexOf('--backends') + 1] ?? '').split(',').map(Number)
  const data = argv.includes('--data') ? argv[argv.indexOf('--data') + 1] : undefined
  const store = argv.includes('--store') ? argv[argv.indexOf('--store') + 1] : 'lmdb'
  const server = role === 'coordinator' ? coordinatorServer(backends) : backendServer(data ? (store === 'log' ? logStore(data) : durableStore(data)) : undefined)
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`)
  })
  process.once('disconnect', () => process.exit(0))
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2))
