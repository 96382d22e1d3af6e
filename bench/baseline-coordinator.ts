/**
 * The baseline: the least work any N=3, W=2 (R=2) coordinator on this machine must do. A bare
 * node:http coordinator forwards each request to 3 bare backends over keep-alive connections and
 * answers once 2 have answered; the backends store nothing. PUT: the body is streamed to all 3
 * (paced by the slowest), the backends consume it and answer a small JSON. GET: the backends
 * answer `x-bench-size` bytes (4 KiB by default); after 2 answers the coordinator streams one.
 * Each server is its own process (as the cluster's are), started by `startBaseline()`; children
 * exit when the parent's IPC channel closes, so a killed bench leaves nothing behind.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import http from 'node:http'
import { resolve as resolvePath } from 'node:path'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import { serverEnv } from '../cluster-ctl/malloc-env.js'

const SMALL_GET_BYTES = 4096
/** Above this a losing backend's GET answer is aborted rather than read to the end. */
const DRAIN_LIMIT = 64 * 1024
const FILL = Buffer.alloc(64 * 1024, 0x61)

export interface Baseline {
  url: string
  procs: { name: string; pid: number }[]
  stop(): Promise<void>
}

function backendServer(): http.Server {
  return http.createServer((req, res) => {
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
    req.on('data', (c: Buffer) => {
      bytes += c.length
    })
    req.once('end', () => {
      const body = JSON.stringify({ ok: true, bytes })
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
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
      out.on('error', fail)
      out.once('response', (r) => {
        r.on('error', fail)
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

/** Start 3 backends and the coordinator, each a child process on a free port. */
export async function startBaseline(): Promise<Baseline> {
  const started: { child: ChildProcess; name: string; port: number }[] = []
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
  }
  try {
    for (let i = 1; i <= 3; i++) started.push(await spawnRole(`backend-${i}`, ['--role', 'backend']))
    const ports = started.map((s) => s.port).join(',')
    started.push(await spawnRole('coordinator', ['--role', 'coordinator', '--backends', ports]))
  } catch (err) {
    await stop()
    throw err
  }
  for (const s of started) s.child.removeAllListeners('exit')
  const coordinator = started[started.length - 1] as { port: number }
  return {
    url: `http://127.0.0.1:${coordinator.port}`,
    procs: started.map((s) => ({ name: `baseline-${s.name}`, pid: s.child.pid as number })),
    stop,
  }
}

function main(argv: readonly string[]): void {
  const role = argv[argv.indexOf('--role') + 1]
  const backends = (argv[argv.indexOf('--backends') + 1] ?? '').split(',').map(Number)
  const server = role === 'coordinator' ? coordinatorServer(backends) : backendServer()
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`)
  })
  process.once('disconnect', () => process.exit(0))
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2))
