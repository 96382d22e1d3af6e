/**
 * V8 flags for every server process (and the bench's baseline, for a fair comparison).
 *
 * A server's live heap is small, and V8 sizes the old generation's limit from it, so without
 * headroom it starts the next major GC almost as soon as the last one ended; starting the old
 * space at 64 MiB stops that, for some RSS per process (see docs/decisions/0004-v8-old-space.md).
 * V8 reads heap sizes only at start, so they are command-line flags (Node does not take this one
 * from NODE_OPTIONS): add them yourself when you run `node dist/...` by hand.
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
