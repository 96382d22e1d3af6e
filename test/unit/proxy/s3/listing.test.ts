import test from 'ava'
import { compareKeys, type Lister } from '../../../../proxy/coordinator/lister.js'
import { listPage } from '../../../../proxy/s3/listing.js'
import type { Version } from '../../../../shared/wire/internal-api.js'

/** A Lister over `keys` answering pages of at most `pageSize` (smaller than asked, as a node-limited page can be); counts the pages. */
function fakeLister(keys: string[], pageSize: number): { lister: Lister; pages: () => number } {
  const sorted = [...keys].sort(compareKeys)
  let pages = 0
  const version = { size: 1, etag: 'e'.repeat(64), md5: 'a'.repeat(32), lastModified: 1, dot: { node: 'n', counter: 1 } } as unknown as Version
  const lister = {
    async page(_bucket: string, q: { prefix: string; after?: string | undefined; limit: number }) {
      pages++
      const from = sorted.filter((k) => k.startsWith(q.prefix) && (q.after === undefined || compareKeys(k, q.after) > 0))
      const page = from.slice(0, Math.min(q.limit, pageSize))
      return { keys: page.map((key) => ({ key, live: [version] })), next: from.length > page.length ? page[page.length - 1] : undefined }
    },
  }
  return { lister: lister as unknown as Lister, pages: () => pages }
}

const keys = ['a', 'b/1', 'b/2', 'b/3', 'b/4', 'b/5', 'c', 'd/x/1', 'd/y', 'e', 'é/1', 'f']

test('a delimiter groups keys into common prefixes, each listed once, however the pages fall', async (t) => {
  for (const pageSize of [1, 2, 3, 100]) {
    const { lister } = fakeLister(keys, pageSize)
    const r = await listPage(lister, 'b', { prefix: '', delimiter: '/', after: undefined, maxKeys: 1000 })
    t.deepEqual(
      r.objects.map((o) => o.key),
      ['a', 'c', 'e', 'f'],
    )
    t.deepEqual(r.prefixes, ['b/', 'd/', 'é/'])
    t.false(r.truncated)
  }
})

test('pages of max-keys walk everything once, a prefix marker skipping its keys', async (t) => {
  const { lister } = fakeLister(keys, 2)
  const seen: string[] = []
  let after: string | undefined
  for (let i = 0; i < 20; i++) {
    const r = await listPage(lister, 'b', { prefix: '', delimiter: '/', after, maxKeys: 2 })
    seen.push(...r.objects.map((o) => o.key), ...r.prefixes)
    if (!r.truncated) break
    after = r.last
  }
  t.deepEqual(seen.sort(), ['a', 'b/', 'c', 'd/', 'e', 'f', 'é/'].sort())
})

test('prefix with delimiter lists one level below; max-keys 0 lists nothing', async (t) => {
  const { lister } = fakeLister(keys, 100)
  const r = await listPage(lister, 'b', { prefix: 'd/', delimiter: '/', after: undefined, maxKeys: 1000 })
  t.deepEqual(
    r.objects.map((o) => o.key),
    ['d/y'],
  )
  t.deepEqual(r.prefixes, ['d/x/'])
  t.deepEqual((await listPage(lister, 'b', { prefix: '', delimiter: '', after: undefined, maxKeys: 0 })).objects, [])
})

test('a big common prefix is jumped over, not paged through', async (t) => {
  const many = [...Array.from({ length: 500 }, (_, i) => `dir/${String(i).padStart(4, '0')}`), 'z']
  const { lister, pages } = fakeLister(many, 10)
  const r = await listPage(lister, 'b', { prefix: '', delimiter: '/', after: undefined, maxKeys: 1000 })
  t.deepEqual(r.prefixes, ['dir/'])
  t.deepEqual(
    r.objects.map((o) => o.key),
    ['z'],
  )
  t.true(pages() <= 3, `${pages()} pages`)
})
