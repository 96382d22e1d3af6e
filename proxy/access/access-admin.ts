/**
 * Changes to keys, grants and public flags: each one a versioned write of a record in `.access`,
 * made over the versions the catalog holds (after a fresh read), to every member at the write
 * quorum; the catalog is refreshed after, so this proxy acts on the change at once and the others
 * within their refresh interval.
 */
import { ACCESS_NAMESPACE } from '../../shared/constants.js'
import { InvalidArgumentError, NoSuchBucketError, NotFoundError } from '../../shared/errors.js'
import { readContextOf } from '../../shared/vclock/versions.js'
import type { CreateKeyRequestSchema, Grant, GrantChangeSchema, KeyInfo } from '../../shared/wire/access-api.js'
import { accessRecordKey, type GrantRecord, type KeyRecord, KV_GRANTS, type PublicRecord } from '../../shared/wire/access-records.js'
import type { WriteCoordinator } from '../coordinator/write-coordinator.js'
import type { AccessCatalog } from './catalog.js'
import { KV_INCARNATION, type ResolvedKey } from './policy.js'
import { newAccessKey, type SecretBox } from './secret-box.js'
import type { z } from 'zod'

export interface AccessAdminComponents {
  catalog: AccessCatalog
  writer: WriteCoordinator
  box: SecretBox
}

const info = (k: ResolvedKey): KeyInfo => ({ id: k.id, name: k.name, admin: k.admin, createBuckets: k.createBuckets, created: k.created })

export class AccessAdmin {
  constructor(
    private readonly c: AccessAdminComponents,
    private readonly cfg: { w: number },
  ) {}

  private async put(key: string, record: object | null): Promise<void> {
    await this.c.catalog.refresh()
    const context = readContextOf(this.c.catalog.versionsOf(ACCESS_NAMESPACE, key))
    const body = record === null ? null : Buffer.from(JSON.stringify(record))
    await this.c.writer.write({ bucket: ACCESS_NAMESPACE, key, body, context, contentType: 'application/json', w: this.cfg.w })
    await this.c.catalog.refresh()
  }

  async createKey(req: z.output<typeof CreateKeyRequestSchema>): Promise<{ key: KeyInfo; secret: string }> {
    const { id, secret } = newAccessKey()
    const record: KeyRecord = { id, name: req.name, admin: req.admin, createBuckets: req.createBuckets, created: new Date().toISOString(), secret: this.c.box.seal(id, secret) }
    await this.put(accessRecordKey.key(id), record)
    return { key: { id, name: record.name, admin: record.admin, createBuckets: record.createBuckets, created: record.created }, secret }
  }

  listKeys(): KeyInfo[] {
    return this.c.catalog.policy().allKeys().map(info)
  }

  private async existing(id: string): Promise<ResolvedKey> {
    // Made a moment ago through another proxy? Look once more before answering 404.
    if (!this.c.catalog.policy().key(id)) await this.c.catalog.refresh()
    const k = this.c.catalog.policy().key(id)
    if (!k) throw new NotFoundError(`no access key ${id}`)
    return k
  }

  async deleteKey(id: string): Promise<void> {
    await this.existing(id)
    await this.put(accessRecordKey.key(id), null)
  }

  /** A new secret for the same key id: its grants stay, the old secret stops working. */
  async rotateKey(id: string): Promise<{ key: KeyInfo; secret: string }> {
    const k = await this.existing(id)
    const secret = newAccessKey().secret
    const record: KeyRecord = { id, name: k.name, admin: k.admin, createBuckets: k.createBuckets, created: k.created, secret: this.c.box.seal(id, secret) }
    await this.put(accessRecordKey.key(id), record)
    return { key: info(k), secret }
  }

  /** Re-seal with the current cluster secret every key secret an older one sealed (a cluster secret rotation). */
  async resealKeys(): Promise<number> {
    let n = 0
    for (const k of this.c.catalog.policy().allKeys()) {
      if (k.sealed.kid === this.c.box.currentKid) continue
      const secret = this.c.box.open(k.id, k.sealed)
      if (secret === undefined) continue
      await this.put(accessRecordKey.key(k.id), {
        id: k.id,
        name: k.name,
        admin: k.admin,
        createBuckets: k.createBuckets,
        created: k.created,
        secret: this.c.box.seal(k.id, secret),
      } satisfies KeyRecord)
      n++
    }
    return n
  }

  private incarnation(bucket: string): string {
    if (bucket === KV_GRANTS) return KV_INCARNATION
    const b = this.c.catalog.policy().bucket(bucket)
    if (!b) throw new NoSuchBucketError(`bucket ${bucket} does not exist`)
    return b.incarnation
  }

  /** Add and remove permissions of one key on a bucket (or KV_GRANTS); a deny wins over an allow of the same permission. */
  async changeGrant(bucket: string, keyId: string, change: z.output<typeof GrantChangeSchema>): Promise<Grant> {
    await this.existing(keyId)
    const incarnation = this.incarnation(bucket)
    if (bucket === KV_GRANTS && (change.allow.includes('owner') || change.deny.includes('owner'))) throw new InvalidArgumentError('the key-value API has read and write permissions only')
    const now = this.c.catalog.policy().grant(bucket, keyId) ?? { key: keyId, read: false, write: false, owner: false }
    const next: Grant = { key: keyId, read: now.read, write: now.write, owner: now.owner }
    for (const p of change.allow) next[p] = true
    for (const p of change.deny) next[p] = false
    const record: GrantRecord | null = next.read || next.write || next.owner ? { bucket, incarnation, ...next } : null
    await this.put(accessRecordKey.grant(bucket, keyId), record)
    return next
  }

  async setPublic(bucket: string, on: boolean): Promise<void> {
    const incarnation = this.incarnation(bucket)
    await this.put(accessRecordKey.public(bucket), on ? ({ bucket, incarnation } satisfies PublicRecord) : null)
  }

  /** After a bucket is deleted: its grants and public flag go too (a new bucket of the name starts without them in any case). */
  async forgetBucket(bucket: string): Promise<void> {
    const policy = this.c.catalog.policy()
    for (const g of policy.grantsOf(bucket)) await this.put(accessRecordKey.grant(bucket, g.key), null)
    if (policy.isPublic(bucket)) await this.put(accessRecordKey.public(bucket), null)
  }
}
