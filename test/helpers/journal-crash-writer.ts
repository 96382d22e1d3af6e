/**
 * A process that writes through a group commit on the LMDB directory it is given and then kills
 * itself with SIGKILL: acknowledged writes that are in the journal, some of them checkpointed into
 * LMDB and some not. Group i puts `k<i>` (the text `v<i>`) and, from the second group on, a 3 KiB
 * buffer under `b<i>` and removes `k<i-1>`. It prints how many groups were acknowledged, as JSON,
 * and is killed; or, with ENDING `exit`, calls process.exit(3) with the transaction still held (it
 * must exit, not wait forever for LMDB's write lock in lmdb-js's exit hook).
 *
 *   node --import=tsx test/helpers/journal-crash-writer.ts DIR GROUPS CHECKPOINT_BYTES [kill|exit]
 */
import { join } from 'node:path'
import { open } from 'lmdb'
import { GroupCommit } from '../../storage-node/store/engine/group-commit.js'

const [dir, groupsArg, bytesArg, ending = 'kill'] = process.argv.slice(2)
const groups = Number(groupsArg)
if (!dir || !(groups > 0)) throw new Error('usage: journal-crash-writer.ts DIR GROUPS CHECKPOINT_BYTES')
const root = open({ path: dir, compression: false })
// A checkpoint only by size: never by time, so what is past the last one is in the journal alone.
const group = new GroupCommit(root, { journalPath: join(dir, 'journal'), sync: true, checkpointBytes: Number(bytesArg), checkpointMs: 3_600_000 })
const text = group.table('text', root.openDB<string, string>({ name: 'text' }))
const bin = group.table('bin', root.openDB<Buffer, string>({ name: 'bin', encoding: 'binary' }))
group.recover()
let acknowledged = 0
for (let i = 0; i < groups; i++) {
  await group.run(() => {
    text.put(`k${i}`, `v${i}`)
    if (i > 0) {
      bin.put(`b${i}`, Buffer.alloc(3072, i % 256))
      text.remove(`k${i - 1}`)
    }
  })
  acknowledged++
}
if (!group.holdsTransaction) throw new Error('the transaction should be held after the last group')
process.stdout.write(`${JSON.stringify({ acknowledged })}\n`, () => (ending === 'exit' ? process.exit(3) : process.kill(process.pid, 'SIGKILL')))
