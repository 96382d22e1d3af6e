/**
 * The last few events of one kind (reads that found siblings, read repairs), newest first, for the
 * cluster page (GET /cluster/status). Bounded, so a storm of conflicts costs a fixed amount of memory;
 * an event for the same bucket and key as the newest one is folded into it (`count` grows).
 */

/** Events kept per log: a screenful on the cluster page. */
export const RECENT_EVENTS_KEPT = 20

export interface RecentEvent {
  /** When the event last happened (ms since the epoch). */
  at: number
  bucket: string
  key: string
  /** Events folded into this one (the same bucket and key, one after another). */
  count: number
  /** What the event is about beyond its key: the siblings a read found, the node a repair went to. */
  detail: string
}

export class RecentEvents {
  private readonly events: RecentEvent[] = []

  constructor(
    private readonly kept = RECENT_EVENTS_KEPT,
    private readonly now: () => number = Date.now,
  ) {}

  add(bucket: string, key: string, detail: string): void {
    const newest = this.events[0]
    if (newest && newest.bucket === bucket && newest.key === key && newest.detail === detail) {
      newest.count++
      newest.at = this.now()
      return
    }
    this.events.unshift({ at: this.now(), bucket, key, count: 1, detail })
    if (this.events.length > this.kept) this.events.pop()
  }

  /** Newest first (copies). */
  list(): RecentEvent[] {
    return this.events.map((e) => ({ ...e }))
  }
}
