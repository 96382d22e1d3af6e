/**
 * The proxy serves two APIs on two ports, with the same keys and the same signing. A request
 * signed for one (its Host names that endpoint) is refused by the other, so it cannot be replayed
 * there, where its path means another operation (S3's bucket `buckets` is the native `/buckets`).
 */
import { AccessDeniedError } from '../../shared/errors.js'

/** Throws when `host` (the request's Host header) names `otherPort`, the other endpoint's port (an absent port is 80). */
export function refuseOtherEndpoint(host: string, otherPort: number | undefined): void {
  if (otherPort === undefined || host === '') return
  const m = /:(\d+)$/.exec(host)
  const port = m ? Number(m[1]) : 80
  if (port === otherPort) throw new AccessDeniedError(`this request was made for the endpoint on port ${otherPort}, not this one`)
}
