/**
 * Conditional requests (RFC 9110 13): If-Match, If-None-Match, If-Modified-Since and
 * If-Unmodified-Since evaluated against what a key holds now. Pure; the native API and the S3
 * endpoint share it. Precedence as RFC 9110 13.2.2: If-Match, else If-Unmodified-Since; then
 * If-None-Match, else (reads only) If-Modified-Since.
 */

/** The four headers as the request sent them (absent: undefined). */
export interface Preconditions {
  ifMatch?: string | undefined
  ifNoneMatch?: string | undefined
  ifModifiedSince?: string | undefined
  ifUnmodifiedSince?: string | undefined
}

/**
 * What the key holds: the entity tags (unquoted) of its live versions (one; several for
 * siblings: a condition on a tag holds when any of them has it) and the newest one's
 * last-modified time (ms since the epoch). null: no live version (missing or deleted).
 */
export interface Current {
  etags: readonly string[]
  lastModified: number
}

/** `ok`: go on; `failed`: 412 PreconditionFailed; `not-modified`: 304 (GET and HEAD only). */
export type PreconditionOutcome = 'ok' | 'failed' | 'not-modified'

/** A read (GET, HEAD) answers 304 where a write (PUT, DELETE) answers 412. */
export type RequestKind = 'read' | 'write'

/** The conditions the request carries, from a header getter (Koa's `ctx.get`, which answers '' for an absent header). */
export function preconditionsOf(get: (name: string) => string | undefined): Preconditions {
  const h = (name: string) => get(name) || undefined
  return { ifMatch: h('if-match'), ifNoneMatch: h('if-none-match'), ifModifiedSince: h('if-modified-since'), ifUnmodifiedSince: h('if-unmodified-since') }
}

/** True when the request carries any of the four. */
export function hasPreconditions(p: Preconditions): boolean {
  return p.ifMatch !== undefined || p.ifNoneMatch !== undefined || p.ifModifiedSince !== undefined || p.ifUnmodifiedSince !== undefined
}

/** Evaluate `p` against `current` (null: the key holds no live version). */
export function evaluatePreconditions(p: Preconditions, current: Current | null, kind: RequestKind): PreconditionOutcome {
  if (p.ifMatch !== undefined) {
    if (!matches(p.ifMatch, current, 'strong')) return 'failed'
  } else if (p.ifUnmodifiedSince !== undefined && current) {
    const since = httpDate(p.ifUnmodifiedSince)
    if (since !== undefined && seconds(current.lastModified) > seconds(since)) return 'failed'
  }
  if (p.ifNoneMatch !== undefined) {
    if (matches(p.ifNoneMatch, current, 'weak')) return kind === 'read' ? 'not-modified' : 'failed'
  } else if (kind === 'read' && p.ifModifiedSince !== undefined && current) {
    const since = httpDate(p.ifModifiedSince)
    if (since !== undefined && seconds(current.lastModified) <= seconds(since)) return 'not-modified'
  }
  return 'ok'
}

/**
 * Whether a list of entity tags (or `*`) names what the key holds. `*` matches any live version.
 * Strong comparison (If-Match) never matches a weak tag `W/"..."`; weak comparison
 * (If-None-Match) ignores the `W/`. Unquoted tags are taken as if quoted: clients send both.
 */
export function matches(header: string, current: Current | null, comparison: 'strong' | 'weak'): boolean {
  const list = header.trim()
  if (list === '*') return current !== null
  if (!current) return false
  for (const tag of parseTags(list)) {
    if (tag.weak && comparison === 'strong') continue
    if (current.etags.includes(tag.value)) return true
  }
  return false
}

/** The entity tags of an If-Match / If-None-Match list. */
export function parseTags(list: string): { weak: boolean; value: string }[] {
  const out: { weak: boolean; value: string }[] = []
  const re = /\s*(W\/)?("([^"]*)"|[^\s,"]+)\s*(?:,|$)/gy
  for (let m = re.exec(list); m && m[0] !== ''; m = re.exec(list)) {
    out.push({ weak: m[1] !== undefined, value: m[3] ?? (m[2] as string) })
  }
  return out
}

/**
 * If-Range (RFC 9110 13.1.5): whether a Range still applies to `current` (one version), so a client
 * resuming a download never splices bytes of a newer version. An entity tag must match strongly, a
 * date exactly (to the second); otherwise the whole object is served.
 */
export function ifRangeHolds(header: string | undefined, current: { etag: string; lastModified: number }): boolean {
  if (header === undefined) return true
  const value = header.trim()
  if (value.startsWith('"') || value.startsWith('W/')) {
    const [tag] = parseTags(value)
    return tag !== undefined && !tag.weak && tag.value === current.etag
  }
  const since = httpDate(value)
  return since !== undefined && seconds(since) === seconds(current.lastModified)
}

/** An HTTP-date (or anything Date parses) in ms; undefined when invalid, and the header is then ignored (RFC 9110 13.1.3). */
function httpDate(value: string): number | undefined {
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? undefined : ms
}

/** HTTP dates have whole seconds: compare at that resolution, or a client echoing Last-Modified never sees a match. */
function seconds(ms: number): number {
  return Math.floor(ms / 1000)
}
