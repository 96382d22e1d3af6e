/**
 * GET /admin/nodes, POST /admin/nodes/:id/decommission and /remove (admin keys): the ring as an
 * operator's decision (shared/wire/node-admin.ts). A change is checked here against what this proxy
 * sees, then applied by one live member (the leaving node itself for a decommission), which
 * gossips it; the answer's ring is merged here at once, so this proxy places keys by it from the
 * next request.
 */
import type { Context } from 'koa'
import { InvalidArgumentError, InvalidNodeStateError, NotFoundError, QuorumNotReachedError } from '../../shared/errors.js'
import type { NodeClient, NodeRef } from '../../shared/http/node-client.js'
import { MemberIdSchema } from '../../shared/wire/membership.js'
import { type NodeChangeAnswer, type NodeListAnswer, nodeAdminRoutes } from '../../shared/wire/node-admin.js'
import type { RingAnswer, RingEntry, RingState } from '../../shared/wire/ring.js'
import type { TransferProgress } from '../../shared/wire/transfer.js'
import type { GuardedRouter } from '../access/guarded-router.js'
import type { MembershipView } from '../membership/membership-view.js'

function nodeParam(ctx: Context): string {
  const parsed = MemberIdSchema.safeParse(ctx.params.id)
  if (!parsed.success) throw new InvalidArgumentError('a node id: letters, digits, "-" and "_", at most 63')
  return parsed.data
}

const forced = (ctx: Context): boolean => ctx.query.force === 'true' || ctx.query.force === '1'

export function mountNodeAdminRoutes(router: GuardedRouter, view: MembershipView, nodes: NodeClient, cfg: { n: number }): void {
  router.get(nodeAdminRoutes.nodes, { admin: true }, async (ctx) => {
    const transfers = new Map<string, TransferProgress>()
    const health = await Promise.allSettled(view.liveNodes().map((n) => nodes.health(n)))
    for (const h of health) if (h.status === 'fulfilled' && h.value.transfer) transfers.set(h.value.node, h.value.transfer)
    const ownership = view.ringSummary().ownership
    ctx.body = {
      success: true,
      ring_version: view.ringSummary().version,
      n: cfg.n,
      nodes: view.view().map((m) => {
        const transfer = transfers.get(m.id)
        return {
          id: m.id,
          address: m.address,
          status: m.status,
          ownership: ownership[m.id] ?? 0,
          ...(m.ring_state ? { ring_state: m.ring_state } : {}),
          ...(m.down_for_s !== undefined ? { down_for_s: m.down_for_s } : {}),
          ...(transfer ? { transfer } : {}),
        }
      }),
    } satisfies NodeListAnswer
  })

  router.post('/admin/nodes/:id/decommission', { admin: true }, async (ctx) => {
    const id = nodeParam(ctx)
    const entry = known(view, id)
    if (entry.state === 'removed') throw new InvalidNodeStateError(`${id} was removed from the ring already`)
    // A joining node places no keys and its holders dropped nothing for it: it leaves by removal, nothing to hand back.
    if (entry.state === 'joining') {
      ctx.body = await change(view, nodes, id, 'removed', [...(view.isUsable(id) ? [view.ref(id)] : []), ...view.usableNodes().filter((n) => n.id !== id)])
      return
    }
    if (entry.state === 'member') {
      if (!view.isUsable(id)) throw new InvalidNodeStateError(`${id} is down: a node hands its data over only while it runs (start it, or remove it: ./dynamoctl node remove ${id})`)
      checkOwnersLeft(view, id, cfg.n, forced(ctx))
    }
    ctx.body = await change(view, nodes, id, 'leaving', [view.ref(id)])
  })

  router.post('/admin/nodes/:id/remove', { admin: true }, async (ctx) => {
    const id = nodeParam(ctx)
    const entry = known(view, id)
    const force = forced(ctx)
    if (entry.state !== 'removed') {
      if (view.isUsable(id) && !force) throw new InvalidNodeStateError(`${id} is alive: decommission it so it hands its data over (./dynamoctl node decommission ${id}), or remove it with --force`)
      checkOwnersLeft(view, id, cfg.n, force)
    }
    ctx.body = await change(
      view,
      nodes,
      id,
      'removed',
      view.usableNodes().filter((n) => n.id !== id),
    )
  })
}

function known(view: MembershipView, id: string): RingEntry {
  const entry = view.ringEntries().find((e) => e.id === id)
  if (!entry) throw new NotFoundError(`${id} is not in the ring (./dynamoctl node status lists it)`)
  return entry
}

/** Fewer owners than N would leave keys with fewer than N copies: refused unless forced. */
function checkOwnersLeft(view: MembershipView, id: string, n: number, force: boolean): void {
  const left = view.ringEntries().filter((e) => e.state === 'member' && e.id !== id).length
  if (left < n && !force) throw new InvalidNodeStateError(`without ${id} the ring would have ${left} owners, fewer than N=${n}: keys would keep fewer copies (--force to do it anyway)`)
}

/** Ask the first of `via` that answers to apply the change; merge its ring here. */
async function change(view: MembershipView, nodes: NodeClient, id: string, state: RingState, via: NodeRef[]): Promise<NodeChangeAnswer> {
  const failures: string[] = []
  for (const node of via) {
    let answer: RingAnswer
    try {
      answer = await nodes.ringChange(node, { id, state })
    } catch (err) {
      failures.push(`${node.id}: ${String(err)}`)
      continue
    }
    view.mergeRing(answer.ring)
    const entry = answer.ring.find((e) => e.id === id) as RingEntry
    return { success: true, node: entry, ring_version: view.ringSummary().version }
  }
  throw new QuorumNotReachedError(1, [], failures.length ? failures : ['no live member to apply the change'])
}
