/**
 * Network nemeses, for clusters whose nodes have their own namespaces (faults/netns/): partitions
 * and packet loss by iptables rules inside the nodes' namespaces, slow and resetting links by the
 * link proxies. Like the process nemeses, each acts only while the workload runs, bounds its
 * rounds, and heals in a finally (flush every rule, clear every link) before it returns.
 */
import type { Nemesis, NemesisEnv } from './scenario.js'
import { nodeAddressOf } from './fault-cluster.js'
import { jsonOf, send } from './http-client.js'
import type { NetworkFaults, ProxyReach } from './netns/network-faults.js'
import { shuffled } from '../shared/shuffled.js'

/** No scenario runs more fault rounds than this, whatever its duration. */
const MAX_ROUNDS = 100

function pick<T>(xs: readonly T[], rng: () => number): T {
  return xs[Math.floor(rng() * xs.length)] as T
}

/** `ms` give or take a quarter. */
function about(ms: number, rng: () => number): number {
  return ms * (0.75 + rng() * 0.5)
}

/** One or two random nodes, sorted. */
function oneOrTwoNodes(env: NemesisEnv): string[] {
  return shuffled(env.nodeIds, env.rng)
    .slice(0, 1 + Math.floor(env.rng() * 2))
    .sort()
}

/**
 * The shape every network nemesis shares: wait a moment, then rounds of `fault` (which injects and
 * holds it), a heal (noted as `healed`) and ~`offMs` of calm, while the workload runs and at most
 * MAX_ROUNDS times; whatever happens, everything is healed before it returns.
 */
function faultRounds(offMs: number, healed: string, fault: (env: NemesisEnv, net: NetworkFaults) => Promise<void>): Nemesis {
  return async (env) => {
    const net = netOf(env)
    try {
      await env.sleep(about(1000, env.rng))
      for (let round = 0; round < MAX_ROUNDS && env.active(); round++) {
        await fault(env, net)
        await net.heal()
        env.note('heal', healed)
        await env.sleep(about(offMs, env.rng))
      }
    } finally {
      await healForCleanup(env, net)
    }
  }
}

function netOf(env: NemesisEnv): NetworkFaults {
  if (!env.cluster.net) throw new Error('this nemesis needs a cluster with network namespaces (NetnsCluster)')
  return env.cluster.net
}

/** Undo every network fault; a failure is noted (the checker's heal flushes again), never thrown from a finally. */
async function healForCleanup(env: NemesisEnv, net: NetworkFaults): Promise<void> {
  if (!net.faulty) return
  try {
    await net.heal()
    env.note('heal (cleanup)', 'flushed every rule, cleared every link')
  } catch (err) {
    env.note('heal (cleanup) FAILED', err instanceof Error ? err.message : String(err))
  }
}

/** What one node's gossip says of the others (evidence that a cut is real), or why it could not be asked. */
async function downAsSeenBy(env: NemesisEnv, id: string): Promise<string> {
  try {
    const a = await send({ method: 'GET', url: `http://${nodeAddressOf(env.cluster, id)}/membership`, totalTimeoutMs: 1500 })
    const body = jsonOf(a) as { members?: { id: string; status: string }[] } | undefined
    const notUp = (body?.members ?? []).filter((m) => m.status !== 'up').map((m) => `${m.id} ${m.status}`)
    return `${id} sees ${notUp.length > 0 ? notUp.join(', ') : 'everyone up'}`
  } catch {
    return `${id} unreachable from the checker`
  }
}

/**
 * Every ~`onMs + offMs`: cut two random nodes from the other three for ~`onMs` (iptables DROP in
 * each node's namespace), then flush. `proxy`: 'both' keeps the proxy in touch with both sides;
 * 'one-side' leaves it one side each round (either one, at random).
 */
export function partition(opts: { onMs: number; offMs: number; minority: number; proxy: 'both' | 'one-side' }): Nemesis {
  return faultRounds(opts.offMs, 'flushed every rule', async (env, net) => {
    const order = shuffled(env.nodeIds, env.rng)
    const a = order.slice(0, opts.minority).sort()
    const b = order.slice(opts.minority).sort()
    const reach: ProxyReach = opts.proxy === 'both' ? 'both' : pick(['a', 'b'] as const, env.rng)
    await net.partition(a, b, reach)
    env.note('partition', `{${a.join(',')}} | {${b.join(',')}}, proxy reaches ${reach === 'both' ? 'both sides' : `only {${(reach === 'a' ? a : b).join(',')}}`}`)
    const onMs = about(opts.onMs, env.rng)
    const seenAfterMs = Math.min(2000, onMs / 2)
    await env.sleep(seenAfterMs)
    if (env.active()) env.note('gossip', `${await downAsSeenBy(env, a[0] as string)}; ${await downAsSeenBy(env, b[0] as string)}`)
    await env.sleep(onMs - seenAfterMs)
  })
}

/** Every ~4 s: one or two random nodes lose each arriving packet with probability ~`probability` for ~`onMs`. */
export function lossyLinks(opts: { onMs: number; offMs: number; probabilities: readonly number[] }): Nemesis {
  return faultRounds(opts.offMs, 'flushed every rule', async (env, net) => {
    const victims = oneOrTwoNodes(env)
    const p = pick(opts.probabilities, env.rng)
    await net.loss(victims, p)
    env.note('packet loss', `${Math.round(p * 100)}% of packets into ${victims.join(', ')}`)
    await env.sleep(about(opts.onMs, env.rng))
  })
}

/**
 * Every ~4 s: every link gets a small delay and resets a few new connections; one or two random
 * nodes get a long per-chunk delay (one of `delaysMs`, some beyond the proxy's replica timeout),
 * and a third of their open connections are reset mid-round.
 */
export function slowLinks(opts: { onMs: number; offMs: number; delaysMs: readonly number[]; resetFraction: number }): Nemesis {
  return faultRounds(opts.offMs, 'every link clean', async (env, net) => {
    const victims = oneOrTwoNodes(env)
    const delayMs = pick(opts.delaysMs, env.rng)
    net.slow(env.nodeIds, { delayMs: 5, jitterMs: 20, resetFraction: opts.resetFraction, resetWithinMs: 3000 })
    net.slow(victims, { delayMs, jitterMs: delayMs / 4 })
    env.note('slow links', `${victims.join(', ')}: ${delayMs}-${delayMs * 1.25} ms per chunk each way; every link 5-25 ms, ${opts.resetFraction * 100}% of new connections reset`)
    const onMs = about(opts.onMs, env.rng)
    await env.sleep(onMs / 2)
    if (env.active()) env.note('reset', `${net.resetConnections(victims, 1 / 3)} open connections of ${victims.join(', ')}`)
    await env.sleep(onMs / 2)
  })
}
