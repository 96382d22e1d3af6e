/**
 * What a bench script started (clusters, baselines, temp dirs), stopped exactly once on the way
 * out: at the end, after an error, or on SIGINT/SIGTERM, including a signal that arrives while
 * something is still starting (it is stopped as soon as its start returns).
 */
export class Owned {
  private readonly stops: (() => Promise<void>)[] = []
  private readonly starting = new Set<Promise<unknown>>()
  private stopping: Promise<void> | undefined

  /** `onSignal` hears of a SIGINT/SIGTERM before the stopping starts (to log it). */
  constructor(onSignal?: (signal: NodeJS.Signals) => void) {
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      process.once(signal, () => {
        onSignal?.(signal)
        void this.stopAll().then(() => process.exit(code))
      })
    }
  }

  /** Start something and own it; if stopping began meanwhile, it is stopped at once and this throws. */
  start<T extends { stop(): Promise<void> }>(start: () => Promise<T>): Promise<T> {
    if (this.stopping) return Promise.reject(new Error('stopping: nothing new is started'))
    const run = (async () => {
      const started = await start()
      if (this.stopping) {
        await started.stop()
        throw new Error('stopped while starting')
      }
      this.stops.push(() => started.stop())
      return started
    })()
    // stopAll waits for every start in progress (and its own stop) before it finishes.
    const settled = run.then(
      () => undefined,
      () => undefined,
    )
    this.starting.add(settled)
    void settled.then(() => this.starting.delete(settled))
    return run
  }

  /** Own a clean-up that is not a started process (a temp dir). */
  add(stop: () => Promise<void> | void): void {
    this.stops.push(async () => stop())
  }

  /** Stop everything owned, last started first; every later call gets the same promise. */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all(this.starting)
      while (this.stops.length > 0) {
        const stop = this.stops.pop() as () => Promise<void>
        await stop().catch((err: unknown) => console.error('stop:', err))
      }
    })()
    return this.stopping
  }
}
