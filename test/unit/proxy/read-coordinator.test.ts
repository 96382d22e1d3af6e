/** ReadCoordinator against stub replicas: which replicas are asked, and what counts toward R. */
import test from 'ava'
import { ReadCoordinator } from '../../../proxy/coordinator/read-coordinator.js'
import type { ReadRepairer } from '../../../proxy/coordinator/read-repair.js'
import type { MembershipView } from '../../../proxy/membership/membership-view.js'
import type { NodeClient, NodeRef } from '../../../shared/http/node-client.js'
import { QuorumNotReachedError } from '../../../shared/errors.js'
import { createLogger } from '../../../shared/log.js'
import type { Version, VersionsAnswer } from '../../../shared/wire/internal-api.js'

const version = (actor: string, counter: number): Version => ({
  dot: { actor, counter },
  context: { vv: {}, dots: [] },
  tombstone: false,
  size: 1,
  etag: 'e'.repeat(64),
  contentType: 'text/plain',
  lastModified: 1,
  node: actor,
})

/** Nodes n1..n5 (preference order), `down` ones unusable; `held` maps node -> versions (hint space included). */
function harness(opts: { down?: string[]; held?: Record<string, Version[]>; random?: () => number; fullReadChance?: number }) {
  const prefs: NodeRef[] = ['n1', 'n2', 'n3', 'n4', 'n5'].map((id) => ({ id, address: `${id}:1` }))
  const asked: string[] = []
  const repairs: number[] = []
  const answer = async (node: NodeRef): Promise<VersionsAnswer> => {
    asked.push(node.id)
    return { node: node.id, versions: opts.held?.[node.id] ?? [] }
  }
  const nodes = { versions: answer, versionsWithData: answer } as unknown as NodeClient
  const view = {
    preferenceList: () => prefs,
    isUsable: (id: string) => !(opts.down ?? []).includes(id),
    markFailed: () => undefined,
  } as unknown as MembershipView
  const repairer = { repair: (_b: string, _k: string, _m: unknown, answers: unknown[]) => repairs.push(answers.length) } as unknown as ReadRepairer
  const reader = new ReadCoordinator(
    { view, nodes, repairer, log: createLogger('test', 'silent') },
    { n: 3, fullReadChance: opts.fullReadChance ?? 0, speculateAfterMs: 0, random: opts.random ?? Math.random },
  )
  return { reader, asked, repairs }
}

test('with every primary up, only R replicas are asked', async (t) => {
  const v = version('n1', 1)
  const { reader, asked } = harness({ held: { n1: [v], n2: [v], n3: [v] } })
  const out = await reader.read('b', 'k', 2)
  t.is(asked.length, 2)
  t.true(asked.every((id) => ['n1', 'n2', 'n3'].includes(id)))
  t.deepEqual(
    out.versions.map((x) => x.dot),
    [v.dot],
  )
})

test('answers that disagree bring in the replica not asked, and all are handed to repair', async (t) => {
  const v = version('n1', 1)
  // random() = 0 always: the shuffle puts n2, n3 first, then n1.
  const { reader, asked, repairs } = harness({ held: { n1: [v], n2: [v], n3: [] }, random: () => 0 })
  await reader.read('b', 'k', 2)
  await new Promise((r) => setTimeout(r, 20))
  t.is(asked.length, 3, `asked ${asked.join(',')}`)
  t.deepEqual(repairs, [3])
})

test('fullReadChance 1 asks all N', async (t) => {
  const { reader, asked } = harness({ fullReadChance: 1 })
  await reader.read('b', 'k', 2)
  t.is(asked.length, 3)
})

test('primaries down: stand-ins are asked; empty stand-in answers alone are not a quorum (503, not "no such key")', async (t) => {
  const { reader, asked } = harness({ down: ['n1', 'n2', 'n3'] })
  const err = await t.throwsAsync(reader.read('b', 'k', 2))
  t.true(err instanceof QuorumNotReachedError, String(err))
  t.deepEqual(asked.sort(), ['n4', 'n5'])
})

test('a live primary answering empty plus an empty stand-in is a valid "not found"', async (t) => {
  const { reader } = harness({ down: ['n1', 'n2'] })
  const out = await reader.read('b', 'k', 2)
  t.deepEqual(out.versions, [])
})

test('a stand-in holding the hinted version counts', async (t) => {
  const v = version('n4', 1)
  const { reader } = harness({ down: ['n1', 'n2', 'n3'], held: { n4: [v] } })
  const out = await reader.read('b', 'k', 1)
  t.is(out.versions.length, 1)
})

test('R replicas that hold nothing while a primary went unasked: it is asked before the read answers "not found"', async (t) => {
  const v = version('n1', 1)
  // random() = 0 always: the shuffle puts n2, n3 first, then n1 (the only one holding it: the
  // others were full or down when it was written, and stand-ins keep their hints).
  const { reader, asked } = harness({ held: { n1: [v], n2: [], n3: [] }, random: () => 0 })
  const out = await reader.read('b', 'k', 2)
  t.deepEqual(
    out.versions.map((x) => x.dot),
    [v.dot],
  )
  t.is(asked.length, 3)
  const none = harness({ held: {}, random: () => 0 })
  t.deepEqual((await none.reader.read('b', 'k', 2)).versions, [], 'a key no replica holds is still not found')
  t.is(none.asked.length, 3)
})
