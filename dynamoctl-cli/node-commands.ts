/**
 * `./dynamoctl node ...`: the ring as an operator's decision (admin key, or the cluster secret).
 * `status` lists every node with its ring state, liveness and transfer; `decommission` has a live
 * node hand its data over and leave; `remove` takes a dead node out so the others re-replicate.
 */
import type { Command } from 'commander'
import { NodeChangeAnswerSchema, NodeListAnswerSchema, type NodeStatus, nodeAdminRoutes } from '../shared/wire/node-admin.js'
import { hint, line, printJson, printTable } from './output.js'
import { openSession } from './session.js'

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

/** `rebalance moving 310 ranges, 1200/5000 keys, 3.1/12.0 MiB, 1.2 MiB/s, 7.3 s left, sent 800 versions (2.0 MiB)` or `-`. */
function transferCell(n: NodeStatus): string {
  const t = n.transfer
  if (!t) return '-'
  if (t.waiting_for) return t.waiting_for.length > 0 ? `joining: waiting for ${t.waiting_for.join(', ')} to send their share` : 'joining: caught up'
  const pace = t.phase === 'moving' && t.bytes_per_s !== undefined ? `, ${mib(t.bytes_per_s)}/s, ${t.eta_s ?? '?'} s left` : ''
  return `${t.kind} ${t.phase} ${t.ranges !== undefined ? `${t.ranges} ranges, ` : ''}${t.keys_done}/${t.keys_total} keys, ${mib(t.bytes_done)}/${mib(t.bytes_total)}${pace}, sent ${t.versions_sent} versions (${mib(t.bytes_sent)})${t.failures ? `, ${t.failures} failed (retried)` : ''}`
}

export function addNodeCommands(program: Command): void {
  const node = program.command('node').description('see and change which nodes own ranges of the ring (needs an admin key, or the cluster secret)')

  node
    .command('status')
    .description('every node of the ring: its state (joining, member, leaving, removed), whether it is up (or for how long it has been down), its share, its transfer')
    .action(async (_o: unknown, cmd: Command) => {
      const s = openSession(cmd)
      const answer = await s.client.request('GET', nodeAdminRoutes.nodes, NodeListAnswerSchema)
      if (s.json) return printJson(answer)
      printTable(
        ['NODE', 'ADDRESS', 'RING', 'STATUS', 'SHARE', 'TRANSFER'],
        answer.nodes.map((n) => [n.id, n.address, n.ring_state ?? '-', n.down_for_s === undefined ? n.status : `${n.status} ${n.down_for_s}s`, `${(n.ownership * 100).toFixed(1)}%`, transferCell(n)]),
      )
      hint(`ring version ${answer.ring_version}, N=${answer.n}`)
    })

  node
    .command('decommission')
    .description('a live node hands every key to the next owners, then leaves the ring (watch with: node status; stop it and delete its data dir once its transfer says done)')
    .argument('<id>', 'the node id, e.g. node-3')
    .option('--force', 'even if fewer than N owners would be left', false)
    .action(async (id: string, o: { force: boolean }, cmd: Command) => {
      const s = openSession(cmd)
      const answer = await s.client.request('POST', nodeAdminRoutes.decommission(id, o.force), NodeChangeAnswerSchema)
      if (s.json) return printJson(answer)
      line(`${id} is ${answer.node.state} (ring version ${answer.ring_version})`)
      hint(`it now sends its keys to their next owners: ./dynamoctl node status shows the transfer; once it says done, stop ${id} and delete its data dir`)
    })

  node
    .command('remove')
    .description('take a dead node out of the ring for good: the others copy its keys to the next owners (refused while it is alive, unless --force)')
    .argument('<id>', 'the node id, e.g. node-3')
    .option('--force', 'even if it is alive, or fewer than N owners would be left', false)
    .action(async (id: string, o: { force: boolean }, cmd: Command) => {
      const s = openSession(cmd)
      const answer = await s.client.request('POST', nodeAdminRoutes.remove(id, o.force), NodeChangeAnswerSchema)
      if (s.json) return printJson(answer)
      line(`${id} is ${answer.node.state} (ring version ${answer.ring_version})`)
      hint('the other nodes now copy its keys to their next owners: ./dynamoctl node status shows the transfers')
    })
}
