/** The progress bar of a transfer (cli-progress, on stderr): bytes, speed and ETA on a terminal; nothing when stderr or stdout is not one, or with --no-progress. */
import { Transform, type TransformCallback } from 'node:stream'
import { Presets, SingleBar } from 'cli-progress'

/** Redraws at most this often: a bar redrawn per 64 KiB chunk would cost more than the copy. */
const REDRAW_MS = 100
/** The speed is measured over this window, so it follows the transfer instead of averaging its whole life. */
const SPEED_WINDOW_MS = 2000

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`
}

export interface Progress {
  /** Bytes done so far (a resumed get starts above 0). */
  add(bytes: number): void
  stop(): void
}

/** A bar of `total` bytes starting at `start`, or a no-op when `show` is false. */
export function startProgress(label: string, total: number, start: number, show: boolean): Progress {
  if (!show) return { add() {}, stop() {} }
  const bar = new SingleBar(
    {
      format: `${label} {bar} {percentage}% | {done}/{size} | {speed} | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
      fps: 1000 / REDRAW_MS,
    },
    Presets.shades_classic,
  )
  let done = start
  let lastDraw = 0
  // Samples of (time, bytes) over the last SPEED_WINDOW_MS.
  const samples: [number, number][] = [[Date.now(), start]]
  const payload = () => {
    const now = Date.now()
    samples.push([now, done])
    while (samples.length > 2 && (samples[0] as [number, number])[0] < now - SPEED_WINDOW_MS) samples.shift()
    const [t0, b0] = samples[0] as [number, number]
    const rate = now > t0 ? ((done - b0) * 1000) / (now - t0) : 0
    return { done: mib(done), size: mib(total), speed: `${mib(rate)}/s` }
  }
  bar.start(Math.max(total, 1), start, payload())
  return {
    add(bytes) {
      done += bytes
      const now = Date.now()
      if (now - lastDraw < REDRAW_MS) return
      lastDraw = now
      bar.update(done, payload())
    },
    stop() {
      bar.update(done, payload())
      bar.stop()
    },
  }
}

/** Whether a bar may be drawn: both stderr (where it goes) and stdout (so a script's `get ... > file` stays quiet) are terminals. */
export function progressWanted(optedOut: boolean): boolean {
  return !optedOut && process.stderr.isTTY === true && process.stdout.isTTY === true
}

/** A pass-through stream that feeds `onChunk` (hashes, a counter, the bar) with every chunk on its way. */
export function tap(onChunk: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback) {
      onChunk(chunk)
      callback(null, chunk)
    },
  })
}
