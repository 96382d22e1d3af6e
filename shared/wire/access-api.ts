/**
 * Access keys, grants and the proxy's admin API, defined once: the shapes of the records kept in
 * the cluster's reserved `.access` namespace, and the requests and answers of `/admin/...` that
 * `./dynamoctl` sends. Only append fields.
 */
import { z } from 'zod'

/** `DK` and 18 of A-Z0-9: 20 characters, the shape AWS tools expect of an access key id. */
export const ACCESS_KEY_ID_RE = /^DK[A-Z0-9]{18}$/
/** 40 characters of base64 letters, like an AWS secret access key. */
export const SECRET_KEY_RE = /^[A-Za-z0-9+/]{40}$/

export const AccessKeyIdSchema = z.string().regex(ACCESS_KEY_ID_RE, 'access key ids are DK followed by 18 of A-Z0-9')

/** What a key may do on one bucket (or on the key-value API). `owner` implies read and write, and may delete the bucket and grant others. */
export const PermissionSchema = z.enum(['read', 'write', 'owner'])
export type Permission = z.infer<typeof PermissionSchema>

/** A key as listed: never its secret. */
export const KeyInfoSchema = z.object({
  id: AccessKeyIdSchema,
  name: z.string().min(1).max(64),
  /** May do everything, key management included. */
  admin: z.boolean(),
  /** May create buckets (and so own them). Admin keys may too. */
  createBuckets: z.boolean(),
  /** ISO 8601. */
  created: z.string(),
})
export type KeyInfo = z.infer<typeof KeyInfoSchema>

/** POST /admin/keys */
export const CreateKeyRequestSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/, 'key names are 1-64 letters, digits, spaces and ._@-'),
  admin: z.boolean().default(false),
  createBuckets: z.boolean().default(false),
})
export type CreateKeyRequest = z.input<typeof CreateKeyRequestSchema>

/** Answer of POST /admin/keys and POST /admin/keys/:id/rotate: the only time a secret is ever shown. */
export const CreatedKeyAnswerSchema = z.object({ success: z.literal(true), key: KeyInfoSchema, secret: z.string().regex(SECRET_KEY_RE) })
export type CreatedKeyAnswer = z.infer<typeof CreatedKeyAnswerSchema>

/** GET /admin/keys */
export const KeyListAnswerSchema = z.object({ success: z.literal(true), keys: z.array(KeyInfoSchema) })

/** One key's rights on one bucket (or on the key-value API). */
export const GrantSchema = z.object({ key: AccessKeyIdSchema, read: z.boolean(), write: z.boolean(), owner: z.boolean() })
export type Grant = z.infer<typeof GrantSchema>

/** POST /admin/buckets/:bucket/grants/:keyId and POST /admin/kv/grants/:keyId: add and remove permissions (deny wins when both name one). */
export const GrantChangeSchema = z
  .object({ allow: z.array(PermissionSchema).default([]), deny: z.array(PermissionSchema).default([]) })
  .refine((c) => c.allow.length + c.deny.length > 0, 'name at least one permission to allow or deny')
export type GrantChange = z.input<typeof GrantChangeSchema>

/** Answer of a grant change: the key's rights now. */
export const GrantAnswerSchema = z.object({ success: z.literal(true), bucket: z.string(), grant: GrantSchema })

/** PUT /admin/buckets/:bucket/public */
export const PublicChangeSchema = z.object({ public: z.boolean() })

/** GET /admin/buckets/:bucket (its owner or an admin) */
export const BucketInfoAnswerSchema = z.object({
  success: z.literal(true),
  bucket: z.string(),
  created: z.string(),
  /** The key that created it; undefined for a bucket made before keys existed (admins only). */
  owner: z.string().nullable(),
  public: z.boolean(),
  grants: z.array(GrantSchema),
})

/** GET /admin/kv: grants of the key-value API. */
export const KvInfoAnswerSchema = z.object({ success: z.literal(true), grants: z.array(GrantSchema) })

/** Paths of the admin API (all need an admin key, except a bucket's own info and grants, which its owner may use). */
export const adminRoutes = {
  keys: '/admin/keys',
  key: (id: string) => `/admin/keys/${encodeURIComponent(id)}`,
  rotateKey: (id: string) => `/admin/keys/${encodeURIComponent(id)}/rotate`,
  bucket: (bucket: string) => `/admin/buckets/${encodeURIComponent(bucket)}`,
  bucketGrant: (bucket: string, id: string) => `/admin/buckets/${encodeURIComponent(bucket)}/grants/${encodeURIComponent(id)}`,
  bucketPublic: (bucket: string) => `/admin/buckets/${encodeURIComponent(bucket)}/public`,
  kv: '/admin/kv',
  kvGrant: (id: string) => `/admin/kv/grants/${encodeURIComponent(id)}`,
} as const
