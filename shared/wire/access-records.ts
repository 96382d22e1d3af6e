/**
 * The records of the reserved `.access` namespace (and the bucket records of `.buckets`), as every
 * proxy reads and writes them. Both namespaces are kept on every member (shared/ring/placement.ts)
 * and versioned like any object: concurrent changes become siblings, which the proxy resolves with
 * the rules of proxy/access/policy.ts. Only append fields.
 */
import { z } from 'zod'
import { AccessKeyIdSchema } from './access-api.js'

/** A secret sealed with AES-256-GCM under a key derived from the cluster secret (proxy/access/secret-box.ts). */
export const SealedSecretSchema = z.object({
  /** Which cluster secret sealed it (a fingerprint of the derived key): rotation re-seals the others. */
  kid: z.string().regex(/^[0-9a-f]{16}$/),
  iv: z.string().max(64),
  ct: z.string().max(256),
  tag: z.string().max(64),
})
export type SealedSecret = z.infer<typeof SealedSecretSchema>

/** `key/<ID>` */
export const KeyRecordSchema = z.object({
  id: AccessKeyIdSchema,
  name: z.string().min(1).max(64),
  admin: z.boolean(),
  createBuckets: z.boolean(),
  created: z.string(),
  secret: SealedSecretSchema,
})
export type KeyRecord = z.infer<typeof KeyRecordSchema>

/** `grant/<bucket>/<ID>`: what one key may do on one incarnation of a bucket (`.kv` for the key-value API). */
export const GrantRecordSchema = z.object({
  bucket: z.string().max(64),
  key: AccessKeyIdSchema,
  read: z.boolean(),
  write: z.boolean(),
  owner: z.boolean(),
  /** Version id of the bucket record it was granted on: a bucket deleted and made again starts with no grants. */
  incarnation: z.string().max(128),
})
export type GrantRecord = z.infer<typeof GrantRecordSchema>

/** `public/<bucket>`: the bucket's objects may be read (GET/HEAD, no listing) without a key. Off is a deletion. */
export const PublicRecordSchema = z.object({ bucket: z.string().max(64), incarnation: z.string().max(128) })
export type PublicRecord = z.infer<typeof PublicRecordSchema>

/** A bucket record in `.buckets/<name>`; `owner` is absent for buckets made before access keys existed. */
export const BucketRecordSchema = z.object({ name: z.string(), created: z.string(), owner: AccessKeyIdSchema.optional() })
export type BucketRecord = z.infer<typeof BucketRecordSchema>

/** The namespace for the key-value API's grants (a reserved name, never a bucket). */
export const KV_GRANTS = '.kv'

export const accessRecordKey = {
  key: (id: string) => `key/${id}`,
  grant: (bucket: string, id: string) => `grant/${bucket}/${id}`,
  public: (bucket: string) => `public/${bucket}`,
} as const
