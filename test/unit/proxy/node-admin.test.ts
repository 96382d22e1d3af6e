/**
 * The proxy's node admin routes (proxy/api/node-admin.ts) over a fake view and fake members: which
 * ring change a decommission asks for, by the state the node is in. A node still joining places no
 * keys and its holders dropped nothing for it, so it is removed at once rather than set leaving
 * (which would put a half-filled node into the placement while it drains).
 */
import type { AddressInfo } from 'node:net'
import Router from '@koa/router'
import test from 'ava'
import Koa from 'koa'
import type { GuardMiddleware, Need } from '../../../proxy/access/guard.js'
import { GuardedRouter } from '../../../proxy/access/guarded-router.js'
import { mountNodeAdminRoutes } from '../../../proxy/api/node-admin.js'
import type { MembershipView } from '../../../proxy/membership/membership-view.js'
import { errorMiddleware } from '../../../shared/http/error-middleware.js'
import type { NodeClient, NodeRef } from '../../../shared/http/node-client.js'
import type { Logger } from '../../../shared/log.js'
import type { RingChangeRequest, RingEntry, RingState } from '../../../shared/wire/ring.js'

const log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} } as unknown as Logger

async function decommission(states: Record<string, RingState>, id: string): Promise<{ status: number; asked: RingChangeRequest[] }> {
  const entries: RingEntry[] = Object.entries(states).map(([node, state]) => ({ id: node, address: `${node}:1`, state, version: 1, by: node, at: '' }))
  const ref = (node: string): NodeRef => ({ id: node, address: `${node}:1` })
  const view = {
    ringEntries: () => entries,
    isUsable: () => true,
    ref,
    usableNodes: () => entries.map((e) => ref(e.id)),
    mergeRing: () => undefined,
    ringSummary: () => ({ version: 9, ownership: {} }),
  } as unknown as MembershipView
  const asked: RingChangeRequest[] = []
  const nodes = {
    ringChange: async (node: NodeRef, change: RingChangeRequest) => {
      asked.push(change)
      return { node: node.id, ring: entries.map((e) => (e.id === change.id ? { ...e, state: change.state, version: 2 } : e)) }
    },
  } as unknown as NodeClient
  // Every caller passes here (the guards have their own tests): what is under test is the change asked for.
  const letThrough = (() => async (_ctx: unknown, next: () => Promise<void>) => next()) as unknown as (need: Need) => GuardMiddleware
  const router = new GuardedRouter(new Router(), letThrough)
  mountNodeAdminRoutes(router, view, nodes, { n: 3 })
  const app = new Koa()
  app.use(errorMiddleware(log))
  app.use(router.router.routes())
  const server = app.listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/nodes/${id}/decommission`, { method: 'POST' })
    await res.arrayBuffer()
    return { status: res.status, asked }
  } finally {
    server.close()
  }
}

test('decommission of a member sets it leaving; of a node still joining, removed; of a removed one, 409', async (t) => {
  const members = { 'node-1': 'member', 'node-2': 'member', 'node-3': 'member', 'node-4': 'member' } as const
  t.like(await decommission({ ...members }, 'node-4'), { status: 200, asked: [{ id: 'node-4', state: 'leaving' }] })
  t.like(await decommission({ ...members, 'node-5': 'joining' }, 'node-5'), { status: 200, asked: [{ id: 'node-5', state: 'removed' }] })
  t.like(await decommission({ ...members, 'node-5': 'removed' }, 'node-5'), { status: 409, asked: [] })
})
