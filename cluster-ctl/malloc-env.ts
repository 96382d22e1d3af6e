/**
 * glibc malloc settings for every server process (and the bench's baseline and client).
 *
 * Streaming a large object allocates and frees tens of MiB of socket buffers a second. With
 * glibc's defaults the freed top of the heap is trimmed back to the kernel almost at once
 * (trim_threshold 128 KiB, grown only by the dynamic mmap threshold) and faulted in again on the
 * next chunk, which costs large transfers most of their CPU. Keeping up to 64 MiB of free heap
 * (and growing it 16 MiB at a time) avoids that, for at most that much idle heap per process
 * (see docs/decisions/0005-malloc-env.md).
 *
 * A user who set GLIBC_TUNABLES malloc entries or MALLOC_*_ variables keeps them; set
 * DYNAMO_MALLOC_TUNING=off to run with glibc's defaults.
 */

/** trim_threshold 64 MiB, top_pad 16 MiB, mmap_threshold 4 MiB (fixed, so it is not grown dynamically). */
export const MALLOC_TUNABLES = 'glibc.malloc.trim_threshold=67108864:glibc.malloc.top_pad=16777216:glibc.malloc.mmap_threshold=4194304'

/** glibc's older environment spellings of the same three settings. */
const OWN_SETTINGS = /^MALLOC_(TRIM_THRESHOLD|TOP_PAD|MMAP_THRESHOLD)_$/

/** The environment a server process is started with: `env` plus the malloc settings unless the user chose their own. */
export function serverEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.DYNAMO_MALLOC_TUNING === 'off') return env
  const tunables = env.GLIBC_TUNABLES ?? ''
  if (tunables.includes('glibc.malloc.') || Object.keys(env).some((k) => OWN_SETTINGS.test(k))) return env
  return { ...env, GLIBC_TUNABLES: tunables ? `${tunables}:${MALLOC_TUNABLES}` : MALLOC_TUNABLES }
}

/** Whether this process already runs with the settings serverEnv would give it. */
export function hasServerEnv(env: NodeJS.ProcessEnv): boolean {
  return serverEnv(env) === env
}
