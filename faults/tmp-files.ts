/** Files left in the nodes' tmp/ directories (staged uploads), with their age: what outlives the staging TTL is a leak. */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { type FaultCluster, nodeIdsOf } from './fault-cluster.js'
import type { TmpFile } from './scenario.js'

export function tmpFiles(cluster: FaultCluster): TmpFile[] {
  const out: TmpFile[] = []
  const now = Date.now()
  for (const id of nodeIdsOf(cluster)) {
    const dir = join(cluster.layout.dataDir, id, 'tmp')
    let names: string[] = []
    try {
      names = readdirSync(dir)
    } catch {
      continue
    }
    for (const file of names) {
      try {
        const st = statSync(join(dir, file))
        out.push({ node: id, file, bytes: st.size, ageS: Math.round((now - st.mtimeMs) / 100) / 10 })
      } catch {}
    }
  }
  return out
}
