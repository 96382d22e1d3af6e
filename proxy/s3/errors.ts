/**
 * S3's error answers: the StoreErrors the store throws, renamed and re-statused where S3 says
 * otherwise, and the few refusals only S3 has (S3Error). The S3 app's error middleware (server.ts)
 * is the one place they become XML.
 */
import { StoreError } from '../../shared/errors.js'

/** An S3 refusal with S3's own code and status (NotImplemented, MalformedXML, BucketAlreadyOwnedByYou, ...). */
export class S3Error extends StoreError {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

export const notImplemented = (what: string) => new S3Error('NotImplemented', 501, `${what} is not implemented by this store (docs/s3.md lists what is)`)
export const malformedXml = (why: string) => new S3Error('MalformedXML', 400, `the XML you provided was not well-formed or did not validate: ${why}`)
export const invalidArgument = (why: string) => new S3Error('InvalidArgument', 400, why)

/** Store codes that S3 spells or statuses differently. */
const RENAMED: Record<string, { code: string; status: number }> = {
  // S3 answers a request without a key 403 AccessDenied, where the native API says 401.
  Unauthorized: { code: 'AccessDenied', status: 403 },
  // S3's EntityTooLarge is a 400 (ours is 413 on the native API).
  EntityTooLarge: { code: 'EntityTooLarge', status: 400 },
  InvalidKey: { code: 'KeyTooLongError', status: 400 },
  InvalidContext: { code: 'InvalidArgument', status: 400 },
  NoSuchVersion: { code: 'NoSuchVersion', status: 404 },
  NotFound: { code: 'NotImplemented', status: 501 },
  QuorumNotReached: { code: 'ServiceUnavailable', status: 503 },
  InsufficientStorage: { code: 'ServiceUnavailable', status: 503 },
  TooManySiblings: { code: 'ServiceUnavailable', status: 503 },
  CorruptReplica: { code: 'InternalError', status: 500 },
  WriteExpired: { code: 'ServiceUnavailable', status: 503 },
}

/** What an error answers on the S3 port: code, status and message (unexpected: a bug, logged, its message hidden). */
export function s3ErrorOf(err: unknown): { code: string; status: number; message: string; unexpected: boolean } {
  if (err instanceof StoreError) {
    const renamed = RENAMED[err.code]
    // The native API's 401 explains Basic too, which this endpoint does not take.
    const message = err.code === 'Unauthorized' ? 'Access Denied: this request needs an access key, signed with AWS Signature V4 (docs/s3.md)' : err.message
    return { code: renamed?.code ?? err.code, status: renamed?.status ?? err.status, message, unexpected: false }
  }
  const status = (err as { status?: unknown } | null)?.status
  if (typeof status === 'number' && status >= 400 && status < 500 && (err as { expose?: boolean }).expose) {
    return { code: status === 413 ? 'EntityTooLarge' : 'InvalidRequest', status: status === 413 ? 400 : status, message: (err as Error).message, unexpected: false }
  }
  return { code: 'InternalError', status: 500, message: 'We encountered an internal error. Please try again.', unexpected: true }
}
