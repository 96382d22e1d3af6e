/**
 * A node's clock identity in its store: the actor `<node id>.<epoch>`, drawn once per data
 * directory, and its count of key incarnations (see planCoordinatedWrite), both kept in `meta`.
 * A fresh data directory gets a fresh epoch, so its counters can never collide with those of a
 * lost disk (riak kv679).
 */
import { randomBytes } from 'node:crypto'
import type { JournaledTable } from './engine/journaled-table.js'

type Meta = JournaledTable<string | number, string>

/** The directory's actor, drawn and stored (with no incarnations yet) when it has none. */
export function loadActor(meta: Meta, nodeId: string): string {
  const existing = meta.get('actor')
  if (typeof existing === 'string') return existing
  const actor = `${nodeId}.${randomBytes(4).toString('hex')}`
  meta.put('actor', actor)
  meta.put('incarnations', 0)
  return actor
}

/** How many key incarnations this actor has started. */
export function incarnations(meta: Meta): number {
  return Number(meta.get('incarnations') ?? 0)
}

/** Inside a write transaction: the count after a coordinated write. */
export function setIncarnations(meta: Meta, n: number): void {
  meta.put('incarnations', n)
}
