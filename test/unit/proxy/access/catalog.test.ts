/**
 * The access catalog's refresh (proxy/access/catalog.ts) over fake members: a member that is paused
 * (its listing never answers) does not hold every refresh until its call times out, so the proxy
 * keeps serving; what the slow member answers later is merged by the next refresh.
 */
import test from 'ava'
import { ACCESS_NAMESPACE } from '../../../../shared/constants.js'
import type { NodeClient, NodeRef } from '../../../../shared/http/node-client.js'
import type { Logger } from '../../../../shared/log.js'
import type { Version } from '../../../../shared/wire/internal-api.js'
import type { MembershipView } from '../../../../proxy/membership/membership-view.js'
import { AccessCatalog, SLOW_MEMBER_GRACE_MS } from '../../../../proxy/access/catalog.js'

const log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} } as unknown as Logger
const tombstone = (counter: number): Version => ({ dot: { node: 'b', counter }, clock: { b: counter }, tombstone: true, lastModified: 1, size: 0, etag: '', contentType: '' }) as unknown as Version

test('a member whose listing does not answer is left out after the grace: the refresh completes, and its answer counts in a later one', async (t) => {
  const members: NodeRef[] = [
    { id: 'a', address: 'a:1' },
    { id: 'b', address: 'b:1' },
  ]
  let release: () => void = () => undefined
  const bPaused = new Promise<void>((r) => {
    release = r
  })
  let asksOfB = 0
  const nodes = {
    list: async (node: NodeRef, ns: string) => {
      if (node.id === 'b') {
        asksOfB++
        await bPaused
        return { entries: ns === ACCESS_NAMESPACE ? [{ key: 'revoked-key', versions: [tombstone(1)] }] : [], truncated: false }
      }
      return { entries: [], truncated: false }
    },
  } as unknown as NodeClient
  const view = { usableNodes: () => members, markFailed: () => undefined } as unknown as MembershipView
  const catalog = new AccessCatalog(view, nodes, { refreshMs: 60_000, staleMs: 5000 }, log)
  const started = Date.now()
  await catalog.refresh()
  const took = Date.now() - started
  t.true(took >= SLOW_MEMBER_GRACE_MS - 50 && took < SLOW_MEMBER_GRACE_MS + 1000, `completed after ${took} ms`)
  t.notThrows(() => catalog.policy(), 'the proxy serves')
  t.deepEqual(catalog.versionsOf(ACCESS_NAMESPACE, 'revoked-key'), [], 'b did not answer: not merged')
  // b is still paused: the next refresh joins its listing under way rather than asking again.
  await catalog.refresh()
  t.is(asksOfB, 2, 'one listing per namespace, asked once')
  release()
  await new Promise((r) => setTimeout(r, 10))
  await catalog.refresh()
  t.is(catalog.versionsOf(ACCESS_NAMESPACE, 'revoked-key').length, 1, "b's answer counts once it comes")
})
