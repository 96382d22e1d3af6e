/**
 * ./dynamoctl: manage the access keys and grants of a running cluster through the proxy's admin API.
 * This file owns the command tree's root, the global options and the exit codes; the commands are
 * in key-commands.ts, grant-commands.ts, presign-command.ts, transfer-commands.ts (put, get),
 * transfer-session.ts (ls, rm), explain-command.ts and node-commands.ts (the ring). Reference: docs/access.md#dynamoctl.
 */
import { Command, CommanderError } from 'commander'
import { addBucketCommands, addKvCommands } from './grant-commands.js'
import { addKeyCommands } from './key-commands.js'
import { addNodeCommands } from './node-commands.js'
import { addPresignCommand } from './presign-command.js'
import { addTransferCommands } from './transfer-commands.js'
import { addListCommands } from './transfer-session.js'
import { addExplainCommand } from './explain-command.js'
import { addTlsCommands } from './tls-command.js'
import { CliError, EXIT } from './errors.js'

const EXIT_HELP = `
Credentials, the first found: --key-id with --secret, --credentials FILE or --secret-file FILE (one of them);
AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY; run/credentials (make run writes it); the cluster secret
(CLUSTER_SECRET, run/cluster.secret), which signs as a cluster member and may always manage keys.
URL: --url, DYNAMO_URL, the DYNAMO_URL line of the credentials file, http://127.0.0.1:$PROXY_PORT (8080).

Exit codes: 0 done; 1 the cluster refused or failed the request (its code and message are printed);
2 usage error (nothing sent); 3 no credentials, or the proxy cannot be reached; 4 get: the key has siblings
(listed on stderr; pick one with --version ID).

put, get, ls, rm and explain need an access key (the cluster secret manages keys and grants only). A progress
bar with speed and ETA is drawn on stderr when stdout and stderr are both terminals (--no-progress: never).`

export function buildProgram(): Command {
  const program = new Command('dynamoctl')
    .description('Manage the access keys and grants of a dynamo-store cluster, presign URLs, and move files in and out (docs/access.md, docs/dynamoctl.md)')
    .option('--url <url>', 'the proxy (native API), e.g. http://127.0.0.1:8080')
    .option('--key-id <id>', 'access key id (with --secret)')
    .option('--secret <secret>', 'its secret access key')
    .option('--credentials <file>', 'a credentials file in the run/credentials format (default: run/credentials)')
    .option('--secret-file <file>', 'sign with the cluster secret in FILE (as a member: may always manage keys)')
    .option('--json', 'print answers as JSON (errors too, on stderr)')
    .addHelpText('after', EXIT_HELP)
  addKeyCommands(program)
  addBucketCommands(program)
  addKvCommands(program)
  addPresignCommand(program)
  addTransferCommands(program)
  addListCommands(program)
  addExplainCommand(program)
  addNodeCommands(program)
  addTlsCommands(program)
  // Every command: --help exits 0, a bad command, flag or value exits 2 after saying why.
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)]
  for (const c of all(program)) c.exitOverride().showHelpAfterError('(see --help)').allowExcessArguments(false)
  return program
}

function report(err: CliError, json: boolean): void {
  if (json) {
    process.stderr.write(`${JSON.stringify({ success: false, error: { code: err.code, message: err.message }, ...(err.status ? { status: err.status } : {}) })}\n`)
    return
  }
  const status = err.status ? ` (HTTP ${err.status})` : ''
  process.stderr.write(err.exitCode === EXIT.usage ? `error: ${err.message}\n(see --help)\n` : `error: ${err.code}${status}: ${err.message}\n`)
}

/** Runs one command line; the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram()
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return EXIT.ok
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage
    const json = program.opts().json === true
    if (err instanceof CliError) {
      report(err, json)
      return err.exitCode
    }
    report(new CliError(EXIT.refused, err instanceof Error ? err.message : String(err), 'InternalError'), json)
    return EXIT.refused
  }
}

// Exit at once: the keep-alive sockets of the HTTP client would hold the process open for seconds.
main(process.argv.slice(2)).then((code) => process.exit(code))
