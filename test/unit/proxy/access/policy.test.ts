import test from 'ava'
import { KV_INCARNATION, Policy, type CatalogEntry } from '../../../../proxy/access/policy.js'
import { SecretBox } from '../../../../proxy/access/secret-box.js'
import { ACCESS_NAMESPACE, BUCKETS_NAMESPACE } from '../../../../shared/constants.js'
import { versionId } from '../../../../shared/vclock/versions.js'
import { accessRecordKey, KV_GRANTS } from '../../../../shared/wire/access-records.js'
import type { Version } from '../../../../shared/wire/internal-api.js'
import { mulberry32 } from '../../../../devtools/prng.js'

const box = new SecretBox(['a cluster secret of some length'])
const K1 = 'DKAAAAAAAAAAAAAAAAA1'
const K2 = 'DKAAAAAAAAAAAAAAAAA2'

let counter = 0
/** A surviving version by `actor` (siblings are simply several in one entry). */
function version(actor: string, tombstone = false): Version {
  counter++
  return { dot: { actor, counter }, context: { vv: {}, dots: [] }, tombstone, size: 0, etag: '0'.repeat(64), contentType: 'application/json', lastModified: 1_700_000_000_000 + counter, node: actor }
}

function entry(...items: ({ actor: string; body: object } | { actor: string; tombstone: true })[]): CatalogEntry {
  const versions: Version[] = []
  const bodies = new Map<string, Buffer>()
  for (const it of items) {
    const v = version(it.actor, 'tombstone' in it)
    versions.push(v)
    if ('body' in it) bodies.set(versionId(v.dot), Buffer.from(JSON.stringify(it.body)))
  }
  return { versions, bodies }
}

function key(id: string, admin = false) {
  return { id, name: id.toLowerCase(), admin, createBuckets: false, created: '2026-12-07T00:00:00.000Z', secret: box.seal(id, 's'.repeat(40)) }
}

function policy(buckets: [string, CatalogEntry][], access: [string, CatalogEntry][]): Policy {
  return new Policy(
    new Map([
      [BUCKETS_NAMESPACE, new Map(buckets)],
      [ACCESS_NAMESPACE, new Map(access)],
    ]),
  )
}

test('of two concurrent creations of a bucket, the version with the lower id owns it, whatever the order they are seen in', (t) => {
  const a = entry({ actor: 'node-2', body: { name: 'b', created: 'x', owner: K2 } }, { actor: 'node-1', body: { name: 'b', created: 'y', owner: K1 } })
  const reversed: CatalogEntry = { versions: [...a.versions].reverse(), bodies: a.bodies }
  for (const e of [a, reversed]) {
    const p = policy([['b', e]], [])
    t.is(p.bucket('b')?.owner, K1)
  }
})

test('a revoke beats a concurrent grant, and concurrent grants give only what all give', (t) => {
  const b = entry({ actor: 'node-1', body: { name: 'b', created: 'x', owner: K1 } })
  const inc = versionId((b.versions[0] as Version).dot)
  const keys: [string, CatalogEntry][] = [
    [accessRecordKey.key(K1), entry({ actor: 'node-1', body: key(K1) })],
    [accessRecordKey.key(K2), entry({ actor: 'node-1', body: key(K2) })],
  ]
  const grant = (read: boolean, write: boolean) => ({ actor: 'node-3', body: { bucket: 'b', key: K2, read, write, owner: false, incarnation: inc } })
  const revoked = policy([['b', b]], [...keys, [accessRecordKey.grant('b', K2), entry(grant(true, true), { actor: 'node-2', tombstone: true })]])
  const k2 = revoked.key(K2)
  t.truthy(k2)
  if (!k2) return
  t.false(revoked.allows(k2, 'b', 'read'))
  const both = policy([['b', b]], [...keys, [accessRecordKey.grant('b', K2), entry(grant(true, true), grant(true, false))]])
  t.true(both.allows(k2, 'b', 'read'))
  t.false(both.allows(k2, 'b', 'write'))
  t.false(both.allows(k2, 'b', 'owner'))
})

test('a grant made on an earlier bucket of the same name gives nothing on the new one', (t) => {
  const b = entry({ actor: 'node-1', body: { name: 'b', created: 'x', owner: K1 } })
  const p = policy(
    [['b', b]],
    [
      [accessRecordKey.key(K2), entry({ actor: 'node-1', body: key(K2) })],
      [accessRecordKey.grant('b', K2), entry({ actor: 'node-1', body: { bucket: 'b', key: K2, read: true, write: true, owner: true, incarnation: 'node-9.1' } })],
      [accessRecordKey.public('b'), entry({ actor: 'node-1', body: { bucket: 'b', incarnation: 'node-9.1' } })],
    ],
  )
  const k2 = p.key(K2)
  if (!k2) return t.fail()
  t.false(p.allows(k2, 'b', 'read'))
  t.false(p.isPublic('b'))
})

test('a deleted key stays deleted beside a concurrent rotation; concurrent key changes keep only the rights all give', (t) => {
  const deleted = policy([], [[accessRecordKey.key(K1), entry({ actor: 'node-1', body: key(K1, true) }, { actor: 'node-2', tombstone: true })]])
  t.is(deleted.key(K1), undefined)
  const both = policy([], [[accessRecordKey.key(K1), entry({ actor: 'node-1', body: key(K1, true) }, { actor: 'node-2', body: key(K1, false) })]])
  t.false(both.key(K1)?.admin)
})

test('property: rights only shrink when a tombstone or a weaker sibling joins a grant (random sibling sets)', (t) => {
  const rand = mulberry32(2718)
  const b = entry({ actor: 'node-1', body: { name: 'b', created: 'x', owner: K1 } })
  const inc = versionId((b.versions[0] as Version).dot)
  const k = entry({ actor: 'node-1', body: key(K2) })
  for (let i = 0; i < 300; i++) {
    const n = 1 + Math.floor(rand() * 4)
    const items = Array.from({ length: n }, (_, j) =>
      rand() < 0.15
        ? { actor: `node-${j}`, tombstone: true as const }
        : { actor: `node-${j}`, body: { bucket: 'b', key: K2, read: rand() < 0.7, write: rand() < 0.5, owner: rand() < 0.2, incarnation: inc } },
    )
    const p = policy(
      [['b', b]],
      [
        [accessRecordKey.key(K2), k],
        [accessRecordKey.grant('b', K2), entry(...items)],
      ],
    )
    const kk = p.key(K2)
    if (!kk) return t.fail()
    const anyTomb = items.some((x) => 'tombstone' in x)
    for (const perm of ['read', 'write', 'owner'] as const) {
      const every = items.every((x) => x.body !== undefined && (x.body.owner || x.body[perm]))
      const ownerAll = items.every((x) => x.body?.owner === true)
      const expected = !anyTomb && (perm === 'owner' ? ownerAll : every || ownerAll)
      t.is(p.allows(kk, 'b', perm), expected, `${perm} of ${JSON.stringify(items)}`)
    }
  }
})

test('key-value grants name their own incarnation; admins may everything', (t) => {
  const p = policy(
    [],
    [
      [accessRecordKey.key(K1), entry({ actor: 'node-1', body: key(K1, true) })],
      [accessRecordKey.key(K2), entry({ actor: 'node-1', body: key(K2) })],
      [accessRecordKey.grant(KV_GRANTS, K2), entry({ actor: 'node-1', body: { bucket: KV_GRANTS, key: K2, read: true, write: false, owner: false, incarnation: KV_INCARNATION } })],
    ],
  )
  const [k1, k2] = [p.key(K1), p.key(K2)]
  if (!k1 || !k2) return t.fail()
  t.true(p.allows(k2, KV_GRANTS, 'read'))
  t.false(p.allows(k2, KV_GRANTS, 'write'))
  t.true(p.allows(k1, KV_GRANTS, 'write'))
  t.true(p.allows(k1, 'any-bucket', 'owner'))
})
