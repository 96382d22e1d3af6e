/**
 * `./dynamoctl tls init DIR --members node-1,node-2,proxy-1 [--hosts 127.0.0.1,...]`: a cluster CA and
 * one certificate per member (shared/tls/member-certs.ts), for --tls-cert/--tls-key/--tls-ca and a
 * proxy's --public-tls-cert/--public-tls-key. `./dynamoctl tls revoke DIR ID`: DIR/ca.crl, the CA's
 * revocation list with ID's certificate on it, for members' --tls-crl. Local only: sends nothing,
 * needs no credentials.
 */
import type { Command } from 'commander'
import { InvalidArgumentError } from '../devtools/command-line.js'
import { NODE_ID_RE } from '../shared/names.js'
import { DEFAULT_TLS_HOSTS, tlsInit, tlsRevoke } from '../shared/tls/member-certs.js'
import { CliError, EXIT } from './errors.js'
import { line, printJson } from './output.js'

function parseList(what: string, ok: (s: string) => boolean) {
  return (text: string): string[] => {
    const items = text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
    if (items.length === 0) throw new InvalidArgumentError(`at least one ${what}`)
    const bad = items.find((s) => !ok(s))
    if (bad !== undefined) throw new InvalidArgumentError(`"${bad}" is not a ${what}`)
    return items
  }
}

export function addTlsCommands(program: Command): void {
  const tls = program.command('tls').description('certificates for mutual TLS between members (docs/operations.md#tls)')
  tls
    .command('init')
    .description('write DIR/ca.crt, DIR/ca.key and DIR/<id>.crt, DIR/<id>.key for each member (keys 0600); a CA or member certificate already in DIR is kept')
    .argument('<dir>', 'directory to write into (made 0700 when missing)')
    .requiredOption(
      '--members <ids>',
      'member ids, comma-separated: nodes (their --id) and proxies (their --id)',
      parseList('member id', (s) => NODE_ID_RE.test(s)),
    )
    .option(
      '--hosts <names>',
      `host names and IP addresses the certificates also name (for clients that check hosts), comma-separated (default: ${DEFAULT_TLS_HOSTS.join(',')})`,
      parseList('host', (s) => /^[A-Za-z0-9.:*-]{1,253}$/.test(s)),
    )
    .action((dir: string, o: { members: string[]; hosts?: string[] }, cmd: Command) => {
      let result: ReturnType<typeof tlsInit>
      try {
        result = tlsInit(dir, o.members, o.hosts ?? DEFAULT_TLS_HOSTS)
      } catch (err) {
        throw new CliError(EXIT.refused, (err as Error).message, 'TlsInitFailed')
      }
      if (cmd.optsWithGlobals<{ json?: boolean }>().json) printJson({ dir, newCa: result.newCa, written: result.written })
      else {
        line(result.newCa ? `new CA: ${dir}/ca.crt (keep ${dir}/ca.key off the servers)` : `CA kept: ${dir}/ca.crt signed the new certificates`)
        for (const f of result.written.filter((w) => !/\/ca\.(crt|key)$/.test(w))) line(`wrote ${f}`)
        if (result.written.length === (result.newCa ? 2 : 0)) line('every member already had a certificate: nothing else written')
      }
    })
  tls
    .command('revoke')
    .description("put member ID's certificate (DIR/<id>.crt) on the CA's revocation list and write it to DIR/ca.crl; members started with --tls-crl DIR/ca.crl refuse that certificate both ways")
    .argument('<dir>', 'the directory `tls init` wrote (it holds ca.key)')
    .argument('<id>', 'the member whose certificate is revoked')
    .action((dir: string, id: string, _o: unknown, cmd: Command) => {
      let result: ReturnType<typeof tlsRevoke>
      try {
        result = tlsRevoke(dir, id)
      } catch (err) {
        throw new CliError(EXIT.refused, (err as Error).message, 'TlsRevokeFailed')
      }
      if (cmd.optsWithGlobals<{ json?: boolean }>().json) printJson({ dir, id, serial: result.serial, crl: result.crlFile })
      else {
        line(`revoked ${id}'s certificate (serial ${result.serial}); the list is ${result.crlFile}`)
        line(
          `copy it to every member, start them with --tls-crl ${result.crlFile} (rolling restart), and give ${id} a new certificate if it stays: ./dynamoctl tls init after removing ${dir}/${id}.crt`,
        )
      }
    })
}
