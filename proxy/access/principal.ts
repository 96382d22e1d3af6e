/** Who a request comes from, as the authenticator (authenticate.ts) finds it and the route guards (guard.ts) read it. */
import type { Context } from 'koa'
import type { ResolvedKey } from './policy.js'

export type Principal =
  | { kind: 'key'; key: ResolvedKey; via: 'sigv4' | 'presigned' | 'basic' }
  /** A request signed with the cluster secret (./dynamoctl on a new or locked-out cluster): key management only. */
  | { kind: 'member'; id: string }
  | { kind: 'anonymous' }

const ANONYMOUS: Principal = { kind: 'anonymous' }

export function principalOf(ctx: Context): Principal {
  return (ctx.state.principal as Principal | undefined) ?? ANONYMOUS
}

/** The name an access log line gives the caller: a key id, `member:<id>` or `-`. */
export function callerName(p: Principal): string {
  return p.kind === 'key' ? p.key.id : p.kind === 'member' ? `member:${p.id}` : '-'
}
