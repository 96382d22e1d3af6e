/**
 * A background job run every `intervalMs` (0 or less: never), never two runs at once: a tick that
 * finds the last run still going skips. A run that fails is reported to `onError` and the next tick
 * tries again (a rejection never goes unhandled); `stop()` waits for the run in flight. The timer
 * does not keep the process alive.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined

  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return
    this.timer = setInterval(() => {
      this.running ??= this.run()
        .then(
          () => undefined,
          (err: unknown) => this.onError(err),
        )
        .finally(() => {
          this.running = undefined
        })
    }, this.intervalMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.running
  }
}
