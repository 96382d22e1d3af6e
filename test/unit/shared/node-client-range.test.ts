/** NodeClient.openData with a range: a node's 206 is passed through, a 200 with every byte (a node that predates ranges) is cut to the span. */
import { Readable } from 'node:stream'
import test from 'ava'
import { Prng } from '../../../devtools/prng.js'
import { NodeClient } from '../../../shared/http/node-client.js'
import type { InternalRequest, InternalTransport } from '../../../shared/http/internal-transport.js'

const BYTES = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251))

/** A transport whose node answers `status` with `body` cut into pieces of `piece` bytes, and records the paths asked. */
function stub(status: number, body: Buffer, piece: number) {
  const paths: string[] = []
  const transport = {
    request: async (r: InternalRequest) => {
      paths.push(r.path)
      const chunks: Buffer[] = []
      for (let i = 0; i < body.length; i += piece) chunks.push(body.subarray(i, i + piece))
      return Object.assign(Readable.from(chunks), { statusCode: status })
    },
  } as unknown as InternalTransport
  return { client: new NodeClient(transport), paths }
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

const node = { id: 'n1', address: 'n1:1' }

test('the range goes as ?range=start-end beside hint_for, and a 206 is the span as sent', async (t) => {
  const { client, paths } = stub(206, BYTES.subarray(10, 21), 4)
  const got = await collect(await client.openData(node, 'b', 'k', 'v.1', { range: { start: 10, end: 20 }, hintFor: 'n2' }))
  t.true(got.equals(BYTES.subarray(10, 21)))
  t.regex(paths[0] as string, /\/data\/v\.1\?hint_for=n2&range=10-20$/)
})

test('property: a 200 with every byte is cut to exactly the span, whatever the pieces', async (t) => {
  const rng = new Prng(200)
  for (let i = 0; i < 200; i++) {
    const start = rng.int(BYTES.length)
    const end = Math.min(BYTES.length - 1, start + rng.int(rng.chance(0.5) ? 50 : BYTES.length))
    const { client } = stub(200, BYTES, rng.range(1, 700))
    const got = await collect(await client.openData(node, 'b', 'k', 'v.1', { range: { start, end } }))
    t.true(got.equals(BYTES.subarray(start, end + 1)), `${start}-${end} (seed 200, case ${i})`)
  }
})

test('without a range a 200 is passed through untouched', async (t) => {
  const { client, paths } = stub(200, BYTES, 1000)
  t.true((await collect(await client.openData(node, 'b', 'k', 'v.1'))).equals(BYTES))
  t.false((paths[0] as string).includes('?'))
})
