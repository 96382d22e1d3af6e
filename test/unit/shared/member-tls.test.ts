/**
 * The certificate-id binding of member TLS (shared/tls/member-tls.ts) and `tls init`'s files
 * (shared/tls/member-certs.ts, with the openssl command line): which member a certificate names,
 * when a signed id and a certificate disagree, what a client accepts from a node, and what a member
 * refuses to start with.
 */

import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, createServer, type PeerCertificate } from 'node:tls'
import test from 'ava'
import { memberFiles, tlsInit, tlsRevoke } from '../../../shared/tls/member-certs.js'
import { certificateRefusal, MemberTls, memberIdOf, memberTlsFlags, peerRefusal, serverIdentityCheck } from '../../../shared/tls/member-tls.js'

const dir = mkdtempSync(join(tmpdir(), 'member-tls-'))
const other = mkdtempSync(join(tmpdir(), 'member-tls-other-'))
tlsInit(dir, ['node-1', 'node-2', 'proxy-1'], ['127.0.0.1', 'db-1.example'])
tlsInit(other, ['node-1'])
test.after.always(() => {
  rmSync(dir, { recursive: true, force: true })
  rmSync(other, { recursive: true, force: true })
})

const san = (file: string) => new X509Certificate(readFileSync(file)).subjectAltName
const cert = (subjectaltname: string) => ({ subjectaltname }) as PeerCertificate

test('memberIdOf: the one urn:dynamo:member URI of the SAN; none, two, or an invalid id name no member', (t) => {
  t.is(memberIdOf('URI:urn:dynamo:member:node-1, DNS:localhost, IP Address:127.0.0.1'), 'node-1')
  t.is(memberIdOf('DNS:localhost, URI:urn:dynamo:member:proxy-1'), 'proxy-1')
  t.is(memberIdOf('DNS:node-1, URI:https://example.com/node-1'), undefined, 'only the member URI counts, not a DNS name or CN')
  t.is(memberIdOf('URI:urn:dynamo:member:node-1, URI:urn:dynamo:member:node-2'), undefined, 'two ids: ambiguous')
  t.is(memberIdOf('URI:urn:dynamo:member:'), undefined)
  t.is(memberIdOf('URI:urn:dynamo:member:node 1'), undefined)
  t.is(memberIdOf('URI:urn:dynamo:member:../node-1'), undefined)
  // node quotes a value holding ", " (here a crafted URI trying to smuggle a second entry in).
  t.is(memberIdOf('URI:"urn:dynamo:member:node-1, URI:urn:dynamo:member:node-2"'), undefined)
  t.is(memberIdOf(undefined), undefined)
  t.is(memberIdOf(''), undefined)
})

test('certificateRefusal: a signature for the id the certificate names passes; another id, or a certificate with none, is refused', (t) => {
  t.is(certificateRefusal('URI:urn:dynamo:member:node-2', 'node-2'), undefined)
  t.regex(certificateRefusal('URI:urn:dynamo:member:node-2', 'node-3') ?? '', /node-2's, the request is signed as node-3/)
  t.regex(certificateRefusal('DNS:localhost', 'node-3') ?? '', /names no member id/)
  t.regex(certificateRefusal(undefined, 'node-3') ?? '', /names no member id/)
})

test('peerRefusal: a plain (non-TLS) connection is not checked here (plain member ports have signatures only)', (t) => {
  t.is(peerRefusal(new Socket(), 'node-3'), undefined)
})

test("serverIdentityCheck: a node's certificate must name the member dialled; an address target accepts any member", (t) => {
  const node1 = cert('URI:urn:dynamo:member:node-1, IP Address:127.0.0.1')
  t.is(serverIdentityCheck('node-1')('127.0.0.1', node1), undefined)
  t.regex(serverIdentityCheck('node-2')('127.0.0.1', node1)?.message ?? '', /node-1's, not node-2's/)
  t.is(serverIdentityCheck('127.0.0.1:9001')('127.0.0.1', node1), undefined, 'first contact with a seed: its id is not known yet')
  t.is(serverIdentityCheck()('127.0.0.1', node1), undefined)
  t.regex(serverIdentityCheck()('127.0.0.1', cert('DNS:localhost, IP Address:127.0.0.1'))?.message ?? '', /names no member id/, 'a host certificate is no member certificate')
})

test('tls init: a CA, and per member a certificate naming its id (CN and SAN URI) and the hosts, keys 0600; an existing CA signs later members', (t) => {
  for (const f of ['ca.key', 'node-1.key', 'node-2.key', 'proxy-1.key']) t.is(statSync(join(dir, f)).mode & 0o777, 0o600, f)
  const x = new X509Certificate(readFileSync(join(dir, 'node-1.crt')))
  t.is(x.subject, 'CN=node-1')
  t.is(x.subjectAltName, 'URI:urn:dynamo:member:node-1, IP Address:127.0.0.1, DNS:db-1.example')
  t.true(x.checkIssued(new X509Certificate(readFileSync(join(dir, 'ca.crt')))))
  t.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], 'serverAuth and clientAuth: a member both serves and dials')
  const ca = readFileSync(join(dir, 'ca.crt'))
  const again = tlsInit(dir, ['node-1', 'node-3'])
  t.false(again.newCa)
  t.deepEqual(again.written, [join(dir, 'node-3.crt'), join(dir, 'node-3.key')], 'node-1 keeps its certificate')
  t.deepEqual(readFileSync(join(dir, 'ca.crt')), ca)
  t.is(memberIdOf(san(join(dir, 'node-3.crt'))), 'node-3')
  t.throws(() => tlsInit(dir, ['bad id']), { message: /not a member id/ })
})

test('MemberTls.load: a member starts only with its own certificate, signed by the CA it is given, with the matching key', (t) => {
  t.is(MemberTls.load(memberFiles(dir, 'node-1'), 'node-1').id, 'node-1')
  t.throws(() => MemberTls.load(memberFiles(dir, 'node-2'), 'node-3'), { message: /names member node-2, not this member \(node-3\)/ })
  t.throws(() => MemberTls.load({ ...memberFiles(other, 'node-1'), caFile: join(dir, 'ca.crt') }, 'node-1'), { message: /not signed by --tls-ca/ })
  t.throws(() => MemberTls.load({ ...memberFiles(dir, 'node-1'), keyFile: join(dir, 'node-2.key') }, 'node-1'), { message: /not the key of --tls-cert/ })
  const opts = MemberTls.load(memberFiles(dir, 'node-1'), 'node-1').serverOptions()
  t.true(opts.requestCert === true && opts.rejectUnauthorized === true, 'a member port asks for a client certificate and refuses one the CA did not sign')
})

test('the flags: all three of --tls-cert/--tls-key/--tls-ca, or none', (t) => {
  t.is(memberTlsFlags({}), undefined)
  t.deepEqual(memberTlsFlags({ tlsCert: 'c', tlsKey: 'k', tlsCa: 'a' }), { certFile: 'c', keyFile: 'k', caFile: 'a' })
  t.throws(() => memberTlsFlags({ tlsCert: 'c', tlsKey: 'k' }), { message: /go together/ })
  t.deepEqual(memberTlsFlags({ tlsCert: 'c', tlsKey: 'k', tlsCa: 'a', tlsCrl: 'l' }), { certFile: 'c', keyFile: 'k', caFile: 'a', crlFile: 'l' })
  t.throws(() => memberTlsFlags({ tlsCrl: 'l' }), { message: /--tls-crl needs/ })
})

/** One TLS handshake between a member port (`server`) and a member (`client`): 'ok', or the client's error code. */
function handshake(server: MemberTls, client: MemberTls): Promise<string> {
  return new Promise((resolve) => {
    const srv = createServer(server.serverOptions(), (s) => s.end('ok'))
    srv.on('tlsClientError', () => undefined)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      const c = connect({ ...client.connectOptions(), host: '127.0.0.1', port })
      let got = ''
      const done = (what: string) => {
        c.destroy()
        srv.close()
        resolve(what)
      }
      c.on('data', (d: Buffer) => {
        got += d.toString()
      })
      c.on('end', () => done(got === 'ok' ? 'ok' : `closed: ${got}`))
      c.on('error', (err: NodeJS.ErrnoException) => done(`refused: ${err.code}`))
    })
  })
}

test('tls revoke: members started with the CRL refuse the revoked certificate as a client and as a server; other members pass', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'member-tls-crl-'))
  t.teardown(() => rmSync(d, { recursive: true, force: true }))
  tlsInit(d, ['node-1', 'node-2', 'node-3'])
  const { crlFile, serial } = tlsRevoke(d, 'node-2')
  t.is(serial, new X509Certificate(readFileSync(join(d, 'node-2.crt'))).serialNumber)
  t.is(tlsRevoke(d, 'node-2').crlFile, crlFile, 'revoking again only writes the list again')
  const strict = (id: string) => MemberTls.load({ ...memberFiles(d, id), crlFile }, id)
  const lax = (id: string) => MemberTls.load(memberFiles(d, id), id)
  t.is(await handshake(strict('node-1'), strict('node-3')), 'ok')
  t.is(await handshake(lax('node-1'), lax('node-2')), 'ok', 'without the list the revoked certificate still passes')
  t.regex(await handshake(strict('node-1'), lax('node-2')), /^(refused|closed)/, 'a revoked client is refused by a member port')
  t.is(await handshake(lax('node-2'), strict('node-1')), 'refused: CERT_REVOKED', 'a member refuses a node showing a revoked certificate')
  t.throws(() => tlsRevoke(d, 'node-9'), { message: /no certificate of node-9/ })
  writeFileSync(join(d, 'bad.crl'), 'not a list')
  t.throws(() => MemberTls.load({ ...memberFiles(d, 'node-1'), crlFile: join(d, 'bad.crl') }, 'node-1'), { message: /not a certificate revocation list/ })
})
