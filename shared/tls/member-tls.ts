/**
 * Mutual TLS on member links (docs/decisions/0021-member-tls.md): with `--tls-cert/--tls-key/--tls-ca`
 * a node serves its port over TLS and asks every client for a certificate signed by the cluster CA
 * (others fail the handshake, before a byte of a request is read); members dial each other over TLS
 * with their own certificate. A member certificate names its member id in a SAN URI,
 * `urn:dynamo:member:<id>` (its CN says the same, for people; only the URI is checked): a signed
 * request or an RPC upgrade is refused when the id its signature names is not the one in the
 * certificate of the connection it came on, and a client refuses a node whose certificate names
 * another id than the one it dials.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { AgentOptions } from 'node:https'
import type { Socket } from 'node:net'
import { createSecureContext, type PeerCertificate, TLSSocket, type TlsOptions } from 'node:tls'
import { NODE_ID_RE } from '../names.js'

export const MEMBER_URI_PREFIX = 'urn:dynamo:member:'

/** The SAN URI a member certificate carries for `id`. */
export function memberUri(id: string): string {
  return `${MEMBER_URI_PREFIX}${id}`
}

export interface MemberTlsFiles {
  certFile: string
  keyFile: string
  caFile: string
  /** The CA's revocation list (PEM, ./dynamoctl tls revoke): a member whose certificate it lists is refused both ways. */
  crlFile?: string | undefined
}

/**
 * The member id a certificate names: its one `URI:urn:dynamo:member:<id>` subject alternative name
 * (`subjectaltname` as node:tls and X509Certificate print it). Undefined when it names none, more
 * than one, or an id that is not a valid member id.
 */
export function memberIdOf(subjectAltName: string | undefined): string | undefined {
  if (!subjectAltName) return undefined
  const ids: string[] = []
  for (const raw of splitSan(subjectAltName)) {
    if (!raw.startsWith('URI:')) continue
    let value = raw.slice(4)
    // node quotes (JSON) a value holding a comma, a quote or a backslash.
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string
      } catch {
        return undefined
      }
    }
    if (value.startsWith(MEMBER_URI_PREFIX)) ids.push(value.slice(MEMBER_URI_PREFIX.length))
  }
  const [id] = ids
  return ids.length === 1 && id !== undefined && NODE_ID_RE.test(id) ? id : undefined
}

/** `a, b, "c, d"` -> entries, a quoted value kept whole. */
function splitSan(text: string): string[] {
  const out: string[] = []
  let cur = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string
    if (ch === '"' && text[i - 1] !== '\\') quoted = !quoted
    if (!quoted && ch === ',' && text[i + 1] === ' ') {
      out.push(cur)
      cur = ''
      i++
      continue
    }
    cur += ch
  }
  out.push(cur)
  return out
}

/** Why a certificate may not speak as `claimed` (undefined: it may). */
export function certificateRefusal(subjectAltName: string | undefined, claimed: string): string | undefined {
  const named = memberIdOf(subjectAltName)
  if (named === undefined) return `the client certificate names no member id (a SAN URI ${MEMBER_URI_PREFIX}<id>); the request is signed as ${claimed}`
  return named === claimed ? undefined : `the client certificate is ${named}'s, the request is signed as ${claimed}`
}

/**
 * Why a request signed as `claimed` is refused on `socket`: undefined on a plain connection (a
 * member port without TLS) or when the verified peer certificate names `claimed`.
 */
export function peerRefusal(socket: Socket, claimed: string): string | undefined {
  if (!(socket instanceof TLSSocket)) return undefined
  if (!socket.authorized) return 'the client presented no certificate signed by the cluster CA'
  const cert: PeerCertificate = socket.getPeerCertificate()
  return certificateRefusal(cert?.subjectaltname, claimed)
}

/** A member's TLS material, loaded and checked at start (a certificate for another id, or not from the CA, stops the process). */
export class MemberTls {
  private constructor(
    readonly cert: Buffer,
    readonly key: Buffer,
    readonly ca: Buffer,
    /** The member id the certificate names. */
    readonly id: string,
    readonly crl?: Buffer | undefined,
  ) {}

  static load(files: MemberTlsFiles, selfId: string): MemberTls {
    const cert = readFileSync(files.certFile)
    const key = readFileSync(files.keyFile)
    const ca = readFileSync(files.caFile)
    const x509 = new X509Certificate(cert)
    const named = memberIdOf(x509.subjectAltName)
    if (named !== selfId)
      throw new Error(
        `--tls-cert ${files.certFile} names ${named === undefined ? 'no member id' : `member ${named}`}, not this member (${selfId}): each member needs its own certificate (./dynamoctl tls init)`,
      )
    if (!x509.checkIssued(new X509Certificate(ca)) || !x509.verify(new X509Certificate(ca).publicKey)) throw new Error(`--tls-cert ${files.certFile} is not signed by --tls-ca ${files.caFile}`)
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error(`--tls-key ${files.keyFile} is not the key of --tls-cert ${files.certFile}`)
    const crl = files.crlFile === undefined ? undefined : readFileSync(files.crlFile)
    if (crl) {
      try {
        createSecureContext({ ca, crl })
      } catch (err) {
        throw new Error(`--tls-crl ${files.crlFile} is not a certificate revocation list (PEM): ${(err as Error).message}`)
      }
    }
    return new MemberTls(cert, key, ca, named, crl)
  }

  /** The revocation list, when given: OpenSSL then checks every peer certificate against it (and refuses all if it is not the CA's). */
  private revocation(): { crl: Buffer } | Record<string, never> {
    return this.crl ? { crl: this.crl } : {}
  }

  /** A member port: TLS, and a client certificate from the cluster CA required at the handshake. */
  serverOptions(): TlsOptions {
    return { cert: this.cert, key: this.key, ca: this.ca, ...this.revocation(), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }
  }

  /**
   * A client's connection to member ports: our certificate, only the cluster CA trusted. For an
   * agent: a request then passes its own serverIdentityCheck (an agent's options override a request's).
   */
  credentials(): AgentOptions {
    return { cert: this.cert, key: this.key, ca: this.ca, ...this.revocation(), minVersion: 'TLSv1.2' }
  }

  /** One connection (no agent) to a member port: `credentials()`, and the node's certificate must name a member (`target`, when given). */
  connectOptions(target?: string): AgentOptions {
    return { ...this.credentials(), checkServerIdentity: serverIdentityCheck(target) }
  }
}

/**
 * The client's check of a node's certificate, in place of host-name matching: it must name member
 * `target` when the caller knows whom it dials (a member id; a host:port target, as for a seed's
 * first contact, is an address), else any member. Members are named by id, not by host, so
 * addresses may change (NAT, --advertise) without new certificates.
 */
export function serverIdentityCheck(target?: string): (host: string, cert: PeerCertificate) => Error | undefined {
  const expected = target !== undefined && NODE_ID_RE.test(target) ? target : undefined
  return (_host, cert) => {
    const named = memberIdOf(cert.subjectaltname)
    if (named === undefined) return new Error('the node certificate names no member id')
    if (expected !== undefined && named !== expected) return new Error(`the node certificate is ${named}'s, not ${expected}'s`)
    return undefined
  }
}

/** Help of the three flags, the same for nodes and proxies. */
export const TLS_FLAG_HELP = {
  cert: "this member's certificate (PEM; it names the member id, see ./dynamoctl tls init): with --tls-key and --tls-ca, member links are mutual TLS",
  key: 'the key of --tls-cert (PEM)',
  ca: 'the cluster CA (PEM): members must present a certificate it signed',
  crl: "the CA's revocation list (PEM, ./dynamoctl tls revoke): members whose certificates it lists are refused; read at start",
} as const

/** `--tls-cert/--tls-key/--tls-ca` (and `--tls-crl`) as parsed: all three, or none (plain HTTP between members). */
export function memberTlsFlags(o: { tlsCert?: string; tlsKey?: string; tlsCa?: string; tlsCrl?: string }): MemberTlsFiles | undefined {
  const given = [o.tlsCert, o.tlsKey, o.tlsCa].filter((v) => v !== undefined).length
  if (given === 0) {
    if (o.tlsCrl !== undefined) throw new Error('--tls-crl needs --tls-cert, --tls-key and --tls-ca')
    return undefined
  }
  if (given !== 3) throw new Error('--tls-cert, --tls-key and --tls-ca go together')
  return { certFile: o.tlsCert as string, keyFile: o.tlsKey as string, caFile: o.tlsCa as string, ...(o.tlsCrl === undefined ? {} : { crlFile: o.tlsCrl }) }
}
