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
import { tmpdir } from 'node:os'
import { join, resolve as resolvePath } from 'node:path'
import { createInterface } from 'node:readline'
import { serverEnv } from '../cluster-ctl/malloc-env.js'
import { isMain, parseChoice, parseCommandLineOrExit, parseIntList, scriptCommand } from '../devtools/command-line.js'
import { serverV8Flags } from '../cluster-ctl/v8-flags.js'
import { backendServer, coordinatorServer } from './baseline-servers.js'
import { FLOOR_STORES, type FloorStore, openFloorStore } from './floor-stores.js'

export interface Baseline {
  url: string
  procs: { name: string; pid: number }[]
  /** The backends, each reachable directly (the durable floor's answer GETs from their own store). */
  backendUrls: string[]
  /** The durable floor's data (removed by stop); undefined for the bare baseline. */
  dataDir?: string | undefined
  stop(): Promise<void>
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
