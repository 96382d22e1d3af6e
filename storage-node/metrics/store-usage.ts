/**
 * What a node's store takes on disk, for GET /metrics: the object files (blobs/, count and bytes)
 * and the metadata (meta/: LMDB and its journal, with small objects embedded), as allocated on
 * the filesystem. Measured by walking the directories, at most once per `maxAgeMs`: the first
 * scrape waits for a walk, later ones answer the last measure and start a new walk in the
 * background when it is older (a walk of a large store takes seconds; a scrape must not).
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

export interface StoreUsage {
  blobFiles: number
  blobBytes: number
  metadataBytes: number
}

/** Allocated bytes of the regular files directly in `dir` (none when it does not exist). */
async function filesIn(dir: string): Promise<{ files: number; bytes: number }> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return { files: 0, bytes: 0 }
  }
  let files = 0
  let bytes = 0
  for (const name of names) {
    // A file removed between readdir and stat is simply not counted.
    const st = await stat(join(dir, name)).catch(() => undefined)
    if (!st?.isFile()) continue
    files++
    bytes += st.blocks * 512
  }
  return { files, bytes }
}

/** Walks blobs/ (its 256 fan-out directories) and meta/ of a data directory. */
export async function measureStoreUsage(dataDir: string): Promise<StoreUsage> {
  const blobs = join(dataDir, 'blobs')
  let blobFiles = 0
  let blobBytes = 0
  for (const d of await readdir(blobs).catch(() => [] as string[])) {
    const f = await filesIn(join(blobs, d))
    blobFiles += f.files
    blobBytes += f.bytes
  }
  return { blobFiles, blobBytes, metadataBytes: (await filesIn(join(dataDir, 'meta'))).bytes }
}

export class StoreUsageMeter {
  private last: { at: number; usage: StoreUsage } | undefined
  private walking: Promise<StoreUsage> | undefined

  constructor(
    private readonly dataDir: string,
    private readonly maxAgeMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The last measure, or a new one when there is none yet; starts a background walk when it is older than maxAgeMs. */
  async usage(): Promise<StoreUsage> {
    if (this.last && this.now() - this.last.at < this.maxAgeMs) return this.last.usage
    const walk = this.walk()
    if (!this.last) return walk
    walk.catch(() => undefined)
    return this.last.usage
  }

  private walk(): Promise<StoreUsage> {
    this.walking ??= measureStoreUsage(this.dataDir)
      .then((usage) => {
        this.last = { at: this.now(), usage }
        return usage
      })
      .finally(() => {
        this.walking = undefined
      })
    return this.walking
  }
}
