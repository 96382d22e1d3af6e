/**
 * V8 flags for every server process (and the bench's baseline, for a fair comparison).
 *
 * A server's live heap is small (15-20 MB here), and V8 sizes the old generation's limit from it
 * (~38 MB): less headroom than the young generation can fill between two collections, so V8
 * starts the next major GC (incremental marking, through its task trigger) almost as soon as the
 * last one ended. Under 1 MiB PUTs the proxy ran 23-48 mark-compacts in 10 s (mutator use 0.90);
 * under 4 KiB PUTs at c16 the five servers ran ~3 a second between them. Starting the old
 * generation at 64 MiB removes that: 4 KiB PUT c16 1,807-1,824 -> 1,912-2,004 PUT/s, p99 25-27 ->
 * 18-19 ms; 1 MiB PUT c4 84-94 -> 99-102 MB/s; each storage node's RSS ~40 MiB higher (README,
 * "Measured figures"). V8 reads heap sizes only at start, so they are command-line flags (Node
 * does not take this one from NODE_OPTIONS): add them yourself when you run `node dist/...` by hand.
 *
 * DYNAMO_V8_TUNING=off starts servers with V8's defaults; a flag of the same name in
 * DYNAMO_NODE_FLAGS replaces ours.
 */

export const SERVER_V8_FLAGS: readonly string[] = ['--initial-old-space-size=64']

/** The flags a server's `node` gets before its script: ours (unless turned off or overridden), then DYNAMO_NODE_FLAGS. */
export function serverNodeFlags(env: NodeJS.ProcessEnv): string[] {
  const extra = (env.DYNAMO_NODE_FLAGS ?? '').split(' ').filter(Boolean)
  if (env.DYNAMO_V8_TUNING === 'off') return extra
  const name = (flag: string) => flag.split('=')[0]
  const ours = SERVER_V8_FLAGS.filter((f) => !extra.some((e) => name(e) === name(f)))
  return [...ours, ...extra]
}

/** Only the V8 tuning (for processes that should not get DYNAMO_NODE_FLAGS' profiling flags, like the bench's baseline). */
export function serverV8Flags(env: NodeJS.ProcessEnv): string[] {
  return env.DYNAMO_V8_TUNING === 'off' ? [] : [...SERVER_V8_FLAGS]
}
