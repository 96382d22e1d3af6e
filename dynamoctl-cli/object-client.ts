/**
 * The native object API as ./dynamoctl's transfers call it: one streamed request at a time over
 * node:http(s), signed with SigV4 and `x-amz-content-sha256: UNSIGNED-PAYLOAD` (the body is checked
 * end to end against the ETag or `x-content-sha256` instead: see transfer-commands.ts), refusals
 * turned into CliErrors carrying the server's code.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { signHeaders } from '../shared/sigv4/signer.js'
import type { Signing } from './credentials.js'
import { CliError, EXIT } from './errors.js'

type KeySigning = Extract<Signing, { kind: 'key' }>

/** A proxy that does not accept the connection by then is taken as unreachable (exit 3). */
const CONNECT_TIMEOUT_MS = 3000
/** Longest silence of a connected proxy mid-transfer: a quorum read or write of a large body may pause a while. */
const IDLE_TIMEOUT_MS = 60_000
/** An error answer is JSON of a few hundred bytes; more is not read. */
const ERROR_BODY_MAX = 64 * 1024

/** Errors of a socket that never reached the proxy: exit 3 rather than 1. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ConnectTimeout'])

/** RFC 3986 percent-encoding (encodeURIComponent leaves !'()* alone), so signer and verifier see one path. */
function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** The native API's path of a bucket's files, or of one object (slashes in the key stay path separators). */
export function filesPath(bucket: string, key?: string): string {
  const base = `/buckets/${encodeSegment(bucket)}/files`
  return key === undefined ? base : `${base}/${key.split('/').map(encodeSegment).join('/')}`
}

export interface ObjectRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'DELETE'
  path: string
  query?: Record<string, string | undefined>
  headers?: Record<string, string>
  /** Streamed as the body; `headers` should then carry its content-length. */
  body?: Readable
}

export class ObjectClient {
  constructor(
    readonly url: URL,
    private readonly key: KeySigning,
  ) {}

  /** Sends one request; the answer, its body not yet read (the caller reads or discards it). */
  async send(req: ObjectRequest): Promise<IncomingMessage> {
    const url = new URL(this.url.pathname.replace(/\/+$/, '') + req.path, this.url)
    for (const [name, value] of Object.entries(req.query ?? {})) if (value !== undefined) url.searchParams.set(name, value)
    // URLSearchParams writes a space as '+'; SigV4's canonical query wants %20.
    url.search = url.search.replace(/\+/g, '%20')
    const headers: Record<string, string> = { ...(req.headers ?? {}) }
    Object.assign(headers, signHeaders(this.key, { method: req.method, url, headers }))
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    return new Promise<IncomingMessage>((done, fail) => {
      const outgoing = send(url, { method: req.method, headers, timeout: CONNECT_TIMEOUT_MS })
      let connected = false
      outgoing.on('socket', (socket) => {
        socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
          connected = true
          outgoing.setTimeout(IDLE_TIMEOUT_MS)
        })
      })
      outgoing.on('timeout', () => outgoing.destroy(Object.assign(new Error(connected ? 'the proxy went silent' : 'connect timeout'), { code: connected ? 'IdleTimeout' : 'ConnectTimeout' })))
      outgoing.on('response', (res) => {
        res.setTimeout(IDLE_TIMEOUT_MS, () => res.destroy(Object.assign(new Error('the proxy went silent mid-answer'), { code: 'IdleTimeout' })))
        done(res)
      })
      outgoing.on('error', (err: NodeJS.ErrnoException) => fail(this.transportError(err)))
      if (req.body) {
        // A refusal may come before the whole body is sent (403, 413): the answer then wins over the broken pipe.
        pipeline(req.body, outgoing).catch(() => {})
      } else outgoing.end()
    })
  }

  /** A socket error as a CliError: exit 3 when the proxy was never reached, 1 when a transfer broke off. */
  transportError(err: NodeJS.ErrnoException): CliError {
    const code = err.code ?? 'TransferFailed'
    if (UNREACHABLE_CODES.has(code)) return new CliError(EXIT.unreachable, `cannot reach the proxy at ${this.url.origin}: ${code}`, 'Unreachable')
    return new CliError(EXIT.refused, `the transfer with ${this.url.origin} broke off: ${err.message}`, code)
  }
}

/** Reads a small answer body whole (JSON answers and errors); refuses more than ERROR_BODY_MAX. */
export async function readSmall(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > ERROR_BODY_MAX) {
      res.destroy()
      break
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** A parsed JSON answer, or a CliError naming the status when it is not JSON. */
export async function readJson(res: IncomingMessage, what: string): Promise<unknown> {
  const text = await readSmall(res)
  try {
    return JSON.parse(text)
  } catch {
    throw new CliError(EXIT.refused, `HTTP ${res.statusCode} to ${what} without a JSON answer: is --url the native API of a proxy?`, 'BadAnswer', res.statusCode)
  }
}

/** The cluster's `{success:false, error:{code, message}}` of a non-2xx answer as a CliError (exit 1). */
export async function refusalOf(res: IncomingMessage, what: string): Promise<CliError> {
  const status = res.statusCode ?? 0
  const text = await readSmall(res).catch(() => '')
  let error: { code?: unknown; message?: unknown } | undefined
  try {
    error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } } | null)?.error
  } catch {}
  const code = typeof error?.code === 'string' ? error.code : `HTTP${status}`
  const message = typeof error?.message === 'string' ? error.message : `HTTP ${status} to ${what}`
  return new CliError(EXIT.refused, message, code, status)
}

/** The transfers need an access key: a member signature (the cluster secret) may only manage keys and grants. */
export function objectClientOf(url: URL, signing: Signing): ObjectClient {
  if (signing.kind !== 'key')
    throw new CliError(EXIT.unreachable, `transfers need an access key (found only the cluster secret, in ${signing.source}, which may manage keys and grants only)`, 'NoCredentials')
  return new ObjectClient(url, signing)
}
