/**
 * `./dynamoctl tls init` and the launcher's TLS=on: a cluster CA and one certificate per member,
 * made with the openssl command line (node:crypto verifies certificates but cannot sign them).
 * ECDSA P-256 keys (cheap handshakes), written 0600. A member certificate: CN=<id>, SAN
 * URI:urn:dynamo:member:<id> (the id member links check, see member-tls.ts) plus DNS/IP names of
 * `hosts` (so a proxy's certificate serves its public port too, and curl --cacert can check a host),
 * EKU serverAuth + clientAuth (a member both serves and dials). A CA already in DIR is reused, so
 * members can be added later; a member that has a certificate keeps it.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes, X509Certificate } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { NODE_ID_RE } from '../names.js'
import { memberUri } from './member-tls.js'

export const DEFAULT_TLS_HOSTS: readonly string[] = ['localhost', '127.0.0.1']
const CA_DAYS = 3650
const MEMBER_DAYS = 825

export interface TlsInitResult {
  /** Files written now (an existing CA or member certificate is kept, not listed). */
  written: string[]
  /** The CA was made now (else the one in DIR signed the new certificates). */
  newCa: boolean
}

/** The paths of member `id`'s certificate and key in `dir`. */
export function memberFiles(dir: string, id: string): { certFile: string; keyFile: string; caFile: string } {
  return { certFile: join(dir, `${id}.crt`), keyFile: join(dir, `${id}.key`), caFile: join(dir, 'ca.crt') }
}

/** Write DIR/ca.crt + ca.key (unless there) and DIR/<id>.crt + <id>.key for each member without them. */
export function tlsInit(dir: string, members: readonly string[], hosts: readonly string[] = DEFAULT_TLS_HOSTS): TlsInitResult {
  for (const id of members) if (!NODE_ID_RE.test(id)) throw new Error(`"${id}" is not a member id (letters, digits, "-" and "_", at most 63)`)
  for (const h of hosts) if (!/^[A-Za-z0-9.:*-]{1,253}$/.test(h)) throw new Error(`"${h}" is not a host name or IP address`)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const written: string[] = []
  const caCrt = join(dir, 'ca.crt')
  const caKey = join(dir, 'ca.key')
  const newCa = !existsSync(caCrt) || !existsSync(caKey)
  if (newCa) {
    newKey(caKey)
    openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      caKey,
      '-out',
      caCrt,
      '-days',
      String(CA_DAYS),
      '-subj',
      '/CN=dynamo-store cluster CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ])
    written.push(caCrt, caKey)
  }
  for (const id of members) {
    const { certFile, keyFile } = memberFiles(dir, id)
    if (existsSync(certFile) && existsSync(keyFile)) continue
    newKey(keyFile)
    const csr = join(dir, `.${id}.csr`)
    const ext = join(dir, `.${id}.ext`)
    const san = [`URI:${memberUri(id)}`, ...hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`))].join(',')
    writeFileSync(ext, ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth,clientAuth', `subjectAltName=${san}`, ''].join('\n'))
    try {
      openssl(['req', '-new', '-key', keyFile, '-out', csr, '-subj', `/CN=${id}`])
      openssl(['x509', '-req', '-in', csr, '-CA', caCrt, '-CAkey', caKey, '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', String(MEMBER_DAYS), '-extfile', ext, '-out', certFile])
    } finally {
      rmSync(csr, { force: true })
      rmSync(ext, { force: true })
    }
    written.push(certFile, keyFile)
  }
  return { written, newCa }
}

/** A P-256 private key at `path`, created 0600 before openssl writes into it. */
function newKey(path: string): void {
  writeFileSync(path, '', { mode: 0o600 })
  chmodSync(path, 0o600)
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path])
  chmodSync(path, 0o600)
}

/**
 * Revoke member `id`'s certificate (DIR/<id>.crt) and write DIR/ca.crl, the CA's list of every
 * certificate revoked so far (signed by DIR/ca.key, valid 10 years), for members' --tls-crl. The
 * CA's records live in DIR/.ca-db (openssl ca's database). Revoking one already revoked only
 * writes the list again. Returns the CRL's path and the certificate's serial number.
 */
export function tlsRevoke(dir: string, id: string): { crlFile: string; serial: string } {
  if (!NODE_ID_RE.test(id)) throw new Error(`"${id}" is not a member id (letters, digits, "-" and "_", at most 63)`)
  const caCrt = join(dir, 'ca.crt')
  const caKey = join(dir, 'ca.key')
  if (!existsSync(caCrt) || !existsSync(caKey)) throw new Error(`${dir} holds no CA (ca.crt and ca.key): revoke from the directory \`tls init\` wrote`)
  const { certFile } = memberFiles(dir, id)
  if (!existsSync(certFile)) throw new Error(`${certFile} does not exist: no certificate of ${id} to revoke`)
  const cert = new X509Certificate(readFileSync(certFile))
  if (!cert.checkIssued(new X509Certificate(readFileSync(caCrt)))) throw new Error(`${certFile} was not issued by ${caCrt}`)
  const db = join(dir, '.ca-db')
  mkdirSync(db, { recursive: true, mode: 0o700 })
  const index = join(db, 'index.txt')
  if (!existsSync(index)) writeFileSync(index, '')
  const crlNumber = join(db, 'crlnumber')
  if (!existsSync(crlNumber)) writeFileSync(crlNumber, '01\n')
  const config = join(db, 'openssl.cnf')
  writeFileSync(
    config,
    [
      '[ca]',
      'default_ca = cluster_ca',
      '[cluster_ca]',
      `database = ${index}`,
      `crlnumber = ${crlNumber}`,
      'default_md = sha256',
      'default_crl_days = 3650',
      `certificate = ${caCrt}`,
      `private_key = ${caKey}`,
      '',
    ].join('\n'),
  )
  const revoked = readFileSync(index, 'utf8')
    .split('\n')
    .some((l) => l.startsWith('R\t') && l.split('\t')[3]?.toUpperCase() === cert.serialNumber.toUpperCase())
  if (!revoked) openssl(['ca', '-config', config, '-revoke', certFile])
  const crlFile = join(dir, 'ca.crl')
  openssl(['ca', '-config', config, '-gencrl', '-out', crlFile])
  return { crlFile, serial: cert.serialNumber }
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer }
    if (e.code === 'ENOENT') throw new Error('the openssl command is not installed (Debian: apt-get install openssl)')
    throw new Error(`openssl ${args[0]}: ${e.stderr?.toString().trim() || e.message}`)
  }
}
