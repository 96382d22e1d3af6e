/** `./dynamoctl key ...`: create, list, rotate and delete access keys (an admin key or the cluster secret). */
import type { Command } from 'commander'
import type { CreatedKeyAnswer } from '../shared/wire/access-api.js'
import { hint, line, printJson, printTable } from './output.js'
import { openSession, parseKeyId } from './session.js'

/** Exactly the first two lines of run/credentials (SPEC "Clients and keys"), so the output can be sourced. */
function printCreated(answer: CreatedKeyAnswer, json: boolean, what: string): void {
  if (json) {
    printJson(answer)
    return
  }
  line(`AWS_ACCESS_KEY_ID=${answer.key.id}`)
  line(`AWS_SECRET_ACCESS_KEY=${answer.secret}`)
  hint(`${what} ${answer.key.id} (${answer.key.name}): its secret is shown only now; save both lines to a file (mode 0600) and load it with: set -a; . FILE; set +a`)
}

export function addKeyCommands(program: Command): void {
  const key = program.command('key').description('manage access keys (needs an admin key, or the cluster secret)')

  key
    .command('create')
    .description('create an access key and print it as AWS_ACCESS_KEY_ID=... and AWS_SECRET_ACCESS_KEY=... lines (the only time its secret is shown)')
    .argument('<name>', 'what the key is for: 1-64 letters, digits, spaces and ._@-')
    .option('--admin', 'may do everything, key management included', false)
    .option('--create-buckets', 'may create buckets (and so owns those it creates)', false)
    .action(async (name: string, o: { admin: boolean; createBuckets: boolean }, cmd: Command) => {
      const s = openSession(cmd)
      printCreated(await s.client.createKey({ name, admin: o.admin, createBuckets: o.createBuckets }), s.json, 'created key')
    })

  key
    .command('list')
    .description('list the access keys (never their secrets)')
    .action(async (_o: unknown, cmd: Command) => {
      const s = openSession(cmd)
      const answer = await s.client.listKeys()
      if (s.json) return printJson(answer)
      if (answer.keys.length === 0) return line('no keys')
      printTable(
        ['ID', 'NAME', 'ADMIN', 'CREATE-BUCKETS', 'CREATED'],
        answer.keys.map((k) => [k.id, k.name, k.admin ? 'yes' : 'no', k.createBuckets ? 'yes' : 'no', k.created]),
      )
    })

  key
    .command('delete')
    .description('delete an access key: every proxy refuses it within 5 s')
    .argument('<id>', 'the key id (DK...)', parseKeyId)
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const s = openSession(cmd)
      const answer = await s.client.deleteKey(id)
      if (s.json) return printJson(answer)
      line(`deleted ${id}`)
    })

  key
    .command('rotate')
    .description('give a key a new secret (same id and grants) and print it; the old secret stops working within 5 s')
    .argument('<id>', 'the key id (DK...)', parseKeyId)
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const s = openSession(cmd)
      printCreated(await s.client.rotateKey(id), s.json, 'rotated key')
    })
}
