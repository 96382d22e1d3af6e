/**
 * The fault injectors, one scenario each. A nemesis acts only while the workload runs, bounds its
 * rounds, signals processes by pid (through the cluster and the launcher's pid files), and
 * undoes everything it did in a finally: a killed process is restarted, a stopped one continued.
 * The network nemeses (partitions, loss, slow links) live in network-nemeses.ts.
 */
import { runningPid } from '../cluster-ctl/launcher.js'
import type { Nemesis, NemesisEnv, Scenario } from './scenario.js'
import { lossyLinks, partition, slowLinks } from './network-nemeses.js'
import { joinThenLeave } from './membership-nemesis.js'

/** No scenario runs more fault rounds than this, whatever its duration. */
const MAX_ROUNDS = 100

function pick<T>(xs: readonly T[], rng: () => number): T {
  return xs[Math.floor(rng() * xs.length)] as T
}

/** `ms` give or take a quarter. */
function about(ms: number, rng: () => number): number {
  return ms * (0.75 + rng() * 0.5)
}

/** Restart a process the nemesis took down; a failure is noted (the checker's heal tries again), never thrown from a finally. */
async function restartForCleanup(env: NemesisEnv, name: string): Promise<void> {
  try {
    await env.cluster.restart(name)
    env.note('restart (cleanup)', name)
  } catch (err) {
    env.note('restart (cleanup) FAILED', `${name}: ${err instanceof Error ? err.message : String(err)}`)
  }
}

/** kill -9 `count` distinct random nodes every ~3 s, restarting them ~2 s later. */
function killNodes(count: number): Nemesis {
  return async (env) => {
    const down = new Set<string>()
    try {
      await env.sleep(about(1000, env.rng))
      for (let round = 0; round < MAX_ROUNDS && env.active(); round++) {
        const victims = new Set<string>()
        while (victims.size < count) victims.add(pick(env.nodeIds, env.rng))
        for (const v of victims) {
          down.add(v)
          await env.cluster.stop(v, 'SIGKILL')
          env.note('kill -9', v)
        }
        await env.sleep(about(2000, env.rng))
        for (const v of victims) {
          await env.cluster.restart(v)
          down.delete(v)
          env.note('restart', v)
        }
        await env.sleep(about(1000, env.rng))
      }
    } finally {
      for (const v of down) await restartForCleanup(env, v)
    }
  }
}

/** SIGSTOP a random node for ~`stopMs`, then SIGCONT: slow, not dead. */
function pauseNode(stopMs: number): Nemesis {
  return async (env) => {
    const paused = new Map<string, number>()
    try {
      await env.sleep(about(1000, env.rng))
      for (let round = 0; round < MAX_ROUNDS && env.active(); round++) {
        const victim = pick(env.nodeIds, env.rng)
        const pid = runningPid(env.cluster.layout, victim)
        if (pid === undefined) throw new Error(`${victim} has no running pid`)
        paused.set(victim, pid)
        process.kill(pid, 'SIGSTOP')
        env.note('SIGSTOP', victim)
        await env.sleep(about(stopMs, env.rng))
        process.kill(pid, 'SIGCONT')
        paused.delete(victim)
        env.note('SIGCONT', victim)
        await env.sleep(about(1500, env.rng))
      }
    } finally {
      for (const [victim, pid] of paused) {
        try {
          process.kill(pid, 'SIGCONT')
        } catch {}
        env.note('SIGCONT (cleanup)', victim)
      }
    }
  }
}

/** Wait (bounded) until some write is in flight; returns the busy keys. */
async function busyKeys(env: NemesisEnv, boundMs: number): Promise<string[]> {
  const deadline = Date.now() + boundMs
  for (let i = 0; i < 10_000 && env.active() && Date.now() < deadline; i++) {
    const keys = [...env.workload.inFlight].filter(([, n]) => n > 0).map(([k]) => k)
    if (keys.length > 0) return keys
    await env.sleep(5)
  }
  return []
}

/** kill -9 the proxy while writes are in flight (`intoWriteMs` after one was seen), every ~3 s, restarting it ~1 s later. */
function killProxy(intoWriteMs: { min: number; max: number }): Nemesis {
  return async (env) => {
    let down = false
    try {
      for (let round = 0; round < MAX_ROUNDS && env.active(); round++) {
        await env.sleep(about(2000, env.rng))
        const keys = await busyKeys(env, 5000)
        if (!env.active()) break
        if (intoWriteMs.max > 0) await env.sleep(intoWriteMs.min + env.rng() * (intoWriteMs.max - intoWriteMs.min))
        down = true
        await env.cluster.stop('proxy', 'SIGKILL')
        env.note('kill -9', `proxy (${keys.length} writes in flight)`)
        await env.sleep(about(1000, env.rng))
        await env.cluster.restart('proxy')
        down = false
        env.note('restart', 'proxy')
      }
    } finally {
      if (down) await restartForCleanup(env, 'proxy')
    }
  }
}

/** During large uploads: kill -9 a primary of a key being uploaded, mid-stream, restart it ~2 s later. */
const killReplicaMidUpload: Nemesis = async (env) => {
  let down: string | undefined
  try {
    for (let round = 0; round < MAX_ROUNDS && env.active(); round++) {
      await env.sleep(about(2000, env.rng))
      const keys = await busyKeys(env, 5000)
      if (keys.length === 0 || !env.active()) continue
      await env.sleep(300 + env.rng() * 1200)
      const key = pick(keys, env.rng)
      const victim = pick(env.prefLists.get(key) ?? env.nodeIds, env.rng)
      down = victim
      await env.cluster.stop(victim, 'SIGKILL')
      env.note('kill -9', `${victim} (a primary of ${key}, ${env.workload.inFlightPuts} uploads in flight)`)
      await env.sleep(about(2000, env.rng))
      await env.cluster.restart(victim)
      down = undefined
      env.note('restart', victim)
    }
  } finally {
    if (down) await restartForCleanup(env, down)
  }
}

/** Not a fault: context-less writes, which by SPEC supersede acknowledged values nobody read. The checker must call them lost. */
const blindWriter: Nemesis = async (env) => {
  const keys = [...env.prefLists.keys()]
  for (let op = 0; op < MAX_ROUNDS && env.active(); op++) {
    await env.sleep(about(500, env.rng))
    if (env.active()) await env.workload.blindWrite(99, op, pick(keys, env.rng))
  }
}

const LARGE = { minBytes: 20 * 1024 * 1024, maxBytes: 50 * 1024 * 1024, clients: 3, keys: 3 }

export const SCENARIOS: readonly Scenario[] = [
  { name: 'none', description: 'no faults: the baseline' },
  { name: 'kill-one', description: 'kill -9 a random node every ~3 s, one at a time, restarted ~2 s later', nemesis: killNodes(1) },
  { name: 'kill-two', description: 'kill -9 two random nodes at a time every ~3 s, restarted ~2 s later', nemesis: killNodes(2) },
  { name: 'pause-one', description: 'SIGSTOP a random node for ~3 s, then SIGCONT (slow, not dead)', nemesis: pauseNode(3000) },
  { name: 'pause-long', description: 'SIGSTOP a random node for ~14 s, then SIGCONT: is the proxy waiting on it bounded?', nemesis: pauseNode(14_000) },
  { name: 'kill-proxy', description: 'kill -9 the proxy while writes are in flight, restarted ~1 s later', nemesis: killProxy({ min: 0, max: 0 }) },
  { name: 'join-leave', description: 'a 6th node joins (ranges stream to it), then is decommissioned and stopped: the ring ends as it began', nemesis: joinThenLeave },
  { name: 'large-kill', description: '20-50 MB streamed uploads; kill -9 a primary of a key mid-upload, restarted ~2 s later', nemesis: killReplicaMidUpload, large: LARGE },
  {
    name: 'large-kill-proxy',
    description: '20-50 MB streamed uploads; kill -9 the proxy mid-upload, restarted ~1 s later (staged bodies are orphaned)',
    nemesis: killProxy({ min: 300, max: 1500 }),
    large: LARGE,
  },
  {
    name: 'partition',
    description: 'every node in its own network namespace; iptables DROP cuts 2 random nodes from the other 3 for ~5 s, then flushed for ~3 s; the proxy reaches both sides',
    nemesis: partition({ onMs: 5000, offMs: 3000, minority: 2, proxy: 'both' }),
    network: 'netns',
  },
  {
    name: 'partition-proxy-one-side',
    description: 'as partition, but the proxy (root namespace) is also cut from one side, either one at random: writes need stand-ins and hints',
    nemesis: partition({ onMs: 5000, offMs: 3000, minority: 2, proxy: 'one-side' }),
    network: 'netns',
  },
  {
    name: 'slow-links',
    description:
      "a TCP link proxy in front of every node (advertised with --advertise): 1-2 nodes get 100-2000 ms per chunk each way for ~4 s, every link 5-25 ms, 5% of new connections and a third of the slow nodes' reset",
    nemesis: slowLinks({ onMs: 4000, offMs: 2000, delaysMs: [100, 400, 2000], resetFraction: 0.05 }),
    network: 'netns-links',
  },
  {
    name: 'lossy-links',
    description: 'iptables statistic DROP of 10-30% of the packets arriving at 1-2 nodes for ~4 s, then flushed for ~2 s (TCP retransmits)',
    nemesis: lossyLinks({ onMs: 4000, offMs: 2000, probabilities: [0.1, 0.2, 0.3] }),
    network: 'netns',
  },
]

/** Scenarios run only when named: the checker's self-test. */
export const SELF_TESTS: readonly Scenario[] = [
  {
    name: 'selftest-blind-writes',
    description: 'checker self-test: a client writes without a context every ~0.5 s; the checker must report lost writes',
    nemesis: blindWriter,
    expectLoss: true,
  },
]

export function scenarioByName(name: string): Scenario {
  const s = [...SCENARIOS, ...SELF_TESTS].find((x) => x.name === name)
  if (!s) throw new Error(`no scenario ${name}; known: ${[...SCENARIOS, ...SELF_TESTS].map((x) => x.name).join(', ')}`)
  return s
}
