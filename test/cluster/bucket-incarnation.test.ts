/**
 * Bucket incarnations on objects, with real processes (issue 30): a proxy whose view of the buckets
 * is a minute old writes into a bucket another proxy deleted and made again. The write lands (the
 * stale proxy cannot know), but it records the old incarnation, so the new bucket neither reads
 * nor lists it; a write in the new bucket supersedes it without a sibling.
 */
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import { createBucket, get, put } from '../helpers/http.js'
import { heldBy } from '../helpers/internal.js'

let cluster: TestCluster
test.before(async () => {
  cluster = await TestCluster.start(4)
})
test.after.always(async () => {
  await cluster?.teardown()
})

test('a write into a deleted bucket by a proxy with a stale view does not show in the bucket made again', async (t) => {
  const stale = await cluster.startProxy('proxy-stale', ['--membership-poll-ms', '200', '--access-refresh-ms', '60000'])
  await createBucket(cluster.url, 'reborn')
  t.is((await put(cluster.url, 'reborn', 'first', 'first life')).status, 201)
  // The stale proxy learns the bucket (one catalog read when it meets an unknown bucket), then reads no more for a minute.
  t.is(await (await get(stale, 'reborn', 'first')).text(), 'first life')
  t.is((await cluster.fetch('/buckets/reborn/files/first', { method: 'DELETE' })).status, 200)
  t.is((await cluster.fetch('/buckets/reborn', { method: 'DELETE' })).status, 200)
  await createBucket(cluster.url, 'reborn')

  const ghost = await put(stale, 'reborn', 'ghost', 'written into the old bucket')
  t.is(ghost.status, 201, 'the stale proxy still believes in the old bucket')
  const { pref_list: prefs } = (await ghost.json()) as { pref_list: string[] }
  const stored = await heldBy(cluster, prefs[0] as string, 'reborn', 'ghost')
  t.is(stored.length, 1)
  t.truthy(stored[0]?.meta?.incarnation, 'the version records the incarnation it was written into')

  t.is((await get(cluster.url, 'reborn', 'ghost')).status, 404, 'the new bucket does not read it')
  const listing = (await (await cluster.fetch('/buckets/reborn/files')).json()) as { files: { key: string }[] }
  t.deepEqual(
    listing.files.map((f) => f.key),
    [],
    'nor lists it',
  )
  t.is((await put(cluster.url, 'reborn', 'ghost', 'second life')).status, 201)
  const read = await get(cluster.url, 'reborn', 'ghost')
  t.is(await read.text(), 'second life')
  t.is(read.headers.get('x-siblings'), '1', 'the old incarnation is not a sibling of the new write')
})
