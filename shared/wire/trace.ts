/** The answer of `?trace=1` on a write of the native API (`trace` in its JSON body): what `Server-Timing` says, as JSON. Only append fields. */
import { z } from 'zod'

export const TraceSchema = z.object({
  /** From the request's arrival at the proxy to the answer (its body may still stream after). */
  total_ms: z.number().nonnegative(),
  /** Waiting for quorums (W acknowledgements, R answers), summed over the request's quorums. */
  quorum_ms: z.number().nonnegative(),
  quorums: z.number().int().nonnegative(),
  /** Each call to a node, in the order they ended: status is the HTTP status (200 for a successful RPC), 0 when the node did not answer. */
  replicas: z.array(z.object({ node: z.string(), status: z.number().int().nonnegative(), ms: z.number().nonnegative() })),
})
export type Trace = z.infer<typeof TraceSchema>
