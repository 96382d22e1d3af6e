/**
 * The write rules, pure so that every store keeps them alike (the LMDB store and the in-memory one
 * of the contract tests): a coordinated write is refused once it has expired, once its request was
 * retired, and when it would leave more than `maxSiblings` live versions; a replicated version is
 * always kept when nothing held supersedes it (it was acknowledged elsewhere), only logged past that
 * limit. And what a write changes in a key's set: whether it was stored and which versions left.
 */
import type { z } from 'zod'
import { DEFAULT_MAX_CLOCK_ENTRIES, DEFAULT_MAX_SIBLINGS } from '../../shared/constants.js'
import { TooManySiblingsError, WriteExpiredError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import type { VectorClock } from '../../shared/vclock/vector-clock.js'
import { displayClock, isRetired, planCoordinatedWrite, reconcile, versionId } from '../../shared/vclock/versions.js'
import type { CoordinateRequestSchema, Version } from '../../shared/wire/internal-api.js'
import { EMPTY_ETAG } from './blobs/blob-files.js'

/** The limits of the write rules (defaults in shared/constants.ts). */
export interface WriteLimits {
  /** Most live concurrent versions a coordinated write may leave (Riak's sibling explosion, refused). */
  maxSiblings?: number | undefined
  /** Most actors kept in a new version's context (see pruneContext in shared/vclock/versions.ts). */
  maxClockEntries?: number | undefined
}

export interface CoordinatedWrite<V extends Version> {
  bucket: string
  key: string
  /** The request as parsed by CoordinateRequestSchema (defaults filled in). */
  req: z.output<typeof CoordinateRequestSchema>
  held: readonly V[]
  /** Highest counter this node issued per own incarnation for the key (kept in its record). */
  issued: Readonly<Record<string, number>> | undefined
  /** This node's actor and how many key incarnations it has started (see planCoordinatedWrite). */
  actor: string
  incarnations: number
  nodeId: string
  now: number
  body: { size: number; etag: string } | null
  limits: WriteLimits
  log?: Logger | undefined
}

/**
 * Check a coordinated write and make its version: throws WriteExpiredError (expired, or its request
 * retired) or TooManySiblingsError, before anything is written. Returns the new version, the held
 * versions it leaves, the key's new `issued` and the node's new count of incarnations.
 */
export function planCoordinate<V extends Version>(w: CoordinatedWrite<V>): { version: Version; kept: V[]; issued: Record<string, number>; incarnation: number } {
  const { bucket, key, req } = w
  // Checked when the write is about to be stored, not when it arrived: a node paused in between
  // must not store a write the proxy has already retried elsewhere.
  if (req.expiresAt !== undefined && w.now > req.expiresAt) {
    w.log?.warn({ bucket, key, lateMs: w.now - req.expiresAt }, 'coordinated write refused: it expired before it could be stored')
    throw new WriteExpiredError(`${bucket}/${key}: the write expired ${w.now - req.expiresAt} ms before it could be stored`)
  }
  // An attempt of a request that a version here retired: a retry of it was read and overwritten
  // already. Storing it would bring the request back (or, as a write without context, replace the
  // overwrite): refused like an expired write, which it is.
  if (isRetired(w.held, req.writeId)) {
    w.log?.warn({ bucket, key, writeId: req.writeId }, 'coordinated write refused: its request was retried, read and overwritten already')
    throw new WriteExpiredError(`${bucket}/${key}: request ${req.writeId} was retried on another coordinator, read and overwritten; this attempt is obsolete`)
  }
  const maxClockEntries = w.limits.maxClockEntries ?? DEFAULT_MAX_CLOCK_ENTRIES
  const plan = planCoordinatedWrite(w.held, req.context, w.actor, w.incarnations, maxClockEntries, w.issued, { writeId: req.writeId, retired: req.retired })
  const live = plan.kept.filter((k) => !k.tombstone).length + (req.tombstone ? 0 : 1)
  const maxSiblings = w.limits.maxSiblings ?? DEFAULT_MAX_SIBLINGS
  if (live > maxSiblings) {
    throw new TooManySiblingsError(`${bucket}/${key} would have ${live} concurrent versions (limit ${maxSiblings}): read it and write back with its context to resolve them`)
  }
  const version: Version = {
    dot: plan.dot,
    context: plan.context,
    tombstone: req.tombstone,
    size: w.body?.size ?? 0,
    etag: w.body?.etag ?? EMPTY_ETAG,
    contentType: req.contentType,
    lastModified: w.now,
    node: w.nodeId,
    ...(req.writeId ? { writeId: req.writeId } : {}),
    ...(req.retried ? { retried: true as const } : {}),
    ...(plan.retired.length > 0 ? { retired: plan.retired } : {}),
    ...(req.md5 && !req.tombstone ? { md5: req.md5 } : {}),
    ...(req.meta && !req.tombstone ? { meta: req.meta } : {}),
  }
  return { version, kept: plan.kept, issued: { ...w.issued, [plan.dot.actor]: plan.dot.counter }, incarnation: plan.incarnation }
}

/** The set a replicated version leaves: every version neither supersedes; past maxSiblings live ones it is still kept, and logged. */
export function planReplicate<V extends Version>(bucket: string, key: string, held: readonly V[], incoming: V, limits: WriteLimits, log?: Logger): V[] {
  const next = reconcile<V>(held, [incoming])
  const live = next.filter((n) => !n.tombstone).length
  if (live > (limits.maxSiblings ?? DEFAULT_MAX_SIBLINGS)) log?.warn({ bucket, key, siblings: live }, 'sibling limit exceeded by a replicated version (kept: it was acknowledged elsewhere)')
  return next
}

/** What replacing a key's `held` set by `next` does for `version`: whether it is newly stored, which held versions leave, and the clock answered. */
export function setChange<V extends Version>(held: readonly V[], next: readonly V[], version: Version): { stored: boolean; dropped: V[]; clock: VectorClock } {
  const id = versionId(version.dot)
  const alreadyHeld = held.some((h) => versionId(h.dot) === id)
  const stored = !alreadyHeld && next.some((n) => versionId(n.dot) === id)
  const nextIds = new Set(next.map((n) => versionId(n.dot)))
  const dropped = held.filter((h) => !nextIds.has(versionId(h.dot)))
  return { stored, dropped, clock: displayClock(stored ? next : held.length ? held : next) }
}
