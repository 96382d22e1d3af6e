/** `./dynamoctl bucket ...` and `kv ...`: who may do what on a bucket, and on the key-value API (seed 002's /set /fetch /query). */
import { type Command, Option } from 'commander'
import { parseOnOff } from '../shared/config/common.js'
import type { Grant, GrantChange, Permission } from '../shared/wire/access-api.js'
import { usageError } from './errors.js'
import { line, printGrants, printJson, printTable, rights } from './output.js'
import { openSession, parseBucket, parseKeyId } from './session.js'

interface PermissionFlags {
  key: string
  read?: boolean
  write?: boolean
  owner?: boolean
}

/** The permissions a command's flags name; none named: `all` for a deny, a usage error for an allow. */
function permissions(o: PermissionFlags, all: readonly Permission[], verb: 'allow' | 'deny'): Permission[] {
  const named = (['read', 'write', 'owner'] as const).filter((p) => o[p] === true)
  if (named.length) return named
  if (verb === 'deny') return [...all]
  throw usageError(`name what to allow: ${all.map((p) => `--${p}`).join(', ')}`)
}

function change(verb: 'allow' | 'deny', perms: Permission[]): GrantChange {
  return verb === 'allow' ? { allow: perms, deny: [] } : { allow: [], deny: perms }
}

function printGrantNow(where: string, grant: Grant): void {
  line(`${grant.key} on ${where}: ${rights(grant)}`)
}

const keyOption = () => new Option('--key <id>', 'the access key (DK...)').argParser(parseKeyId).makeOptionMandatory()

function addBucketGrantCommand(bucket: Command, verb: 'allow' | 'deny'): void {
  bucket
    .command(verb)
    .description(
      verb === 'allow'
        ? 'let a key read, write or own a bucket (owner: may also delete it and grant others); needs the owner, an admin key or the cluster secret'
        : 'take rights on a bucket away from a key (no flag: all of them); a revoke beats a concurrent grant',
    )
    .argument('<bucket>', 'the bucket', parseBucket)
    .addOption(keyOption())
    .option('--read', 'list and read its objects')
    .option('--write', 'write and delete its objects')
    .option('--owner', 'delete the bucket, grant others, make it public')
    .action(async (name: string, o: PermissionFlags, cmd: Command) => {
      const perms = permissions(o, ['read', 'write', 'owner'], verb)
      const s = openSession(cmd)
      const answer = await s.client.changeBucketGrant(name, o.key, change(verb, perms))
      if (s.json) return printJson(answer)
      printGrantNow(`bucket ${answer.bucket}`, answer.grant)
    })
}

function addKvGrantCommand(kv: Command, verb: 'allow' | 'deny'): void {
  kv.command(verb)
    .description(verb === 'allow' ? 'let a key read (/fetch, /query) or write (/set) the key-value API; needs an admin' : 'take rights on the key-value API away from a key (no flag: both)')
    .addOption(keyOption())
    .option('--read', 'POST /fetch, GET /fetch, POST /query')
    .option('--write', 'PUT /set')
    .action(async (o: PermissionFlags, cmd: Command) => {
      const perms = permissions(o, ['read', 'write'], verb)
      const s = openSession(cmd)
      const answer = await s.client.changeKvGrant(o.key, change(verb, perms))
      if (s.json) return printJson(answer)
      printGrantNow('the key-value API', answer.grant)
    })
}

export function addBucketCommands(program: Command): void {
  const bucket = program.command('bucket').description("a bucket's grants, owner and public flag (needs its owner, an admin key or the cluster secret)")
  addBucketGrantCommand(bucket, 'allow')
  addBucketGrantCommand(bucket, 'deny')

  bucket
    .command('public')
    .description('on: anyone may GET and HEAD its objects without a key (no listing, no writes); off (the default): keys only')
    .argument('<bucket>', 'the bucket', parseBucket)
    .argument('<on|off>', 'on or off', parseOnOff)
    .action(async (name: string, on: boolean, _o: unknown, cmd: Command) => {
      const s = openSession(cmd)
      const answer = await s.client.setPublic(name, on)
      if (s.json) return printJson(answer)
      line(`bucket ${answer.bucket} is ${answer.public ? 'public: anyone may read its objects' : 'private: keys only'}`)
    })

  bucket
    .command('info')
    .description('owner, public flag and grants of a bucket')
    .argument('<bucket>', 'the bucket', parseBucket)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const s = openSession(cmd)
      const answer = await s.client.bucketInfo(name)
      if (s.json) return printJson(answer)
      printTable(['BUCKET', 'CREATED', 'OWNER', 'PUBLIC'], [[answer.bucket, answer.created, answer.owner ?? '(none: made before access keys)', answer.public ? 'yes' : 'no']])
      line()
      printGrants(answer.grants)
    })
}

export function addKvCommands(program: Command): void {
  const kv = program.command('kv').description("grants of the key-value API, seed 002's /set /fetch /query (needs an admin)")
  addKvGrantCommand(kv, 'allow')
  addKvGrantCommand(kv, 'deny')
  kv.command('info')
    .description('the keys allowed on the key-value API')
    .action(async (_o: unknown, cmd: Command) => {
      const s = openSession(cmd)
      const answer = await s.client.kvInfo()
      if (s.json) return printJson(answer)
      printGrants(answer.grants)
    })
}
