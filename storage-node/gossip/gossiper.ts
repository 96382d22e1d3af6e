/**
 * The gossip loop: every T_gossip, bump our heartbeat and push our digest to `fanout` random live
 * peers (push-pull: their answer is merged too). With nobody known yet, the seeds are asked.
 */
import type { Got } from 'got'
import { ANY_MEMBER } from '../../shared/http/signing.js'
import type { Logger } from '../../shared/log.js'
import { internalRoutes } from '../../shared/wire/internal-api.js'
import { GossipMessageSchema } from '../../shared/wire/membership.js'
import { forProtocol } from '../../shared/wire/ring.js'
import type { NodeRing } from '../ring/node-ring.js'
import type { GossipConfig } from './gossip-config.js'
import type { Membership } from './membership.js'

export interface GossiperComponents {
  membership: Membership
  /** The ring record, pushed and pulled with every exchange (it is small: one entry per node). */
  ring: NodeRing
  client: Got
  log: Logger
}

export class Gossiper {
  private timer: NodeJS.Timeout | undefined
  private running = false
  /** Gossip traffic this node started (requests out, answers in), for /health and the scale figures. */
  readonly stats = { exchanges: 0, failures: 0, bytesOut: 0, bytesIn: 0 }

  constructor(
    private readonly c: GossiperComponents,
    private readonly cfg: GossipConfig,
    private readonly seeds: readonly string[],
  ) {}

  start(): void {
    void this.round()
    this.timer = setInterval(() => void this.round(), this.cfg.intervalMs)
  }

  /** Stop the loop and tell a few peers we are leaving, so they do not wait for T_fail. */
  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.c.membership.leave()
    const peers = this.c.membership.peers().filter((p) => p.status !== 'down')
    await Promise.allSettled(peers.slice(0, 8).map((p) => this.exchange(p.address, p.id)))
  }

  private async round(): Promise<void> {
    if (this.running) return
    this.running = true
    try {
      this.c.membership.tick()
      const live = this.c.membership.peers().filter((p) => p.status !== 'down')
      const down = this.c.membership.peers().filter((p) => p.status === 'down')
      const targets: { address: string; id?: string }[] = pickRandom(live, this.cfg.fanout)
      // Seeds are asked while we know no live peer (joining, or after a partition); a down peer now and then, to notice its return.
      if (live.length === 0) targets.push(...this.seeds.map((address) => ({ address })))
      else if (down.length > 0 && Math.random() < 0.2) targets.push(...pickRandom(down, 1))
      await Promise.allSettled(targets.map((t) => this.exchange(t.address, t.id)))
    } finally {
      this.running = false
    }
  }

  /** One push-pull with the member at `address`; `id`, when known, is what the signature binds (a seed's is not known yet). */
  private async exchange(address: string, id?: string): Promise<void> {
    try {
      // A seed not heard from yet (no id) is shown no joining node; a member that announces no protocol speaks 1.
      const protocol = id === undefined ? undefined : (this.c.membership.protocolOf(id) ?? 1)
      const body = JSON.stringify({ from: this.c.membership.selfId, members: this.c.membership.digest(), ring: forProtocol(this.c.ring.entries(), protocol) })
      this.stats.bytesOut += body.length
      const res = await this.c.client.post(`http://${address}${internalRoutes.gossip.path()}`, {
        body,
        headers: { 'content-type': 'application/json' },
        context: { target: id ?? ANY_MEMBER },
        timeout: { request: Math.max(500, this.cfg.intervalMs) },
      })
      this.stats.bytesIn += res.body.length
      if (res.statusCode !== 200) throw new Error(`gossip answered ${res.statusCode}`)
      const answer = GossipMessageSchema.parse(JSON.parse(res.body))
      this.c.membership.merge(answer.members)
      if (answer.ring) this.c.ring.merge(answer.ring)
      this.stats.exchanges++
    } catch (err) {
      this.stats.failures++
      this.c.log.debug({ peer: address, err: String(err) }, 'gossip exchange failed')
    }
  }
}

function pickRandom<T>(items: readonly T[], n: number): T[] {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[copy[i], copy[j]] = [copy[j] as T, copy[i] as T]
  }
  return copy.slice(0, n)
}
