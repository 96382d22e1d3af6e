/** Fixtures shared by the store's tests: versions as another node would make them, contexts, spaces, reading a body back. */
import type { CausalContext, Dot } from '../../shared/vclock/versions.js'
import { versionId } from '../../shared/vclock/versions.js'
import type { Version } from '../../shared/wire/internal-api.js'
import { EMPTY_ETAG, type ReceivedBody } from '../../storage-node/store/blobs/blob-files.js'
import type { Space } from '../../storage-node/store/object-store.js'

/** The store clock of the tests. */
export const NOW = 1_700_000_000_000

export const ids = (vs: readonly Version[]) => vs.map((v) => versionId(v.dot)).sort()
export const ctx = (vv: Record<string, number> = {}, dots: Dot[] = []): CausalContext => ({ vv, dots })
export const hint = (target: string): Space => ({ kind: 'hint', target })

/** A version as another node would have made it. */
export function foreignVersion(actor: string, counter: number, context: CausalContext, b: ReceivedBody | null): Version {
  return {
    dot: { actor, counter },
    context,
    tombstone: b === null,
    size: b?.size ?? 0,
    etag: b?.etag ?? EMPTY_ETAG,
    contentType: 'text/plain',
    lastModified: NOW,
    node: actor.split('.')[0] as string,
  }
}

export async function readAll(opened: NodeJS.ReadableStream | Promise<NodeJS.ReadableStream>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of await opened) chunks.push(Buffer.from(c as Uint8Array))
  return Buffer.concat(chunks)
}
