/**
 * The durable floors of bench/durable-floor.ts are real stores: what a PUT through the coordinator
 * wrote comes back through it and from each of its backends' store (LMDB, or the log floor's
 * append-only file), a key never written is 404, a method it does not store is refused, and
 * stopping it removes its processes and data.
 */
import { existsSync, readdirSync } from 'node:fs'
import test from 'ava'
import { startBaseline } from '../../bench/baseline-coordinator.js'
import { FLOOR_STORES } from '../../bench/floor-stores.js'

for (const [store, twoRounds] of [...FLOOR_STORES.map((s) => [s, false] as const), ['lmdb', true] as const]) {
  test(`durable floor (${store}${twoRounds ? ', two rounds' : ''}): PUT bodies are stored and read back; stop cleans up`, async (t) => {
    t.timeout(60_000)
    const floor = await startBaseline({ durable: store, twoRounds })
    const dataDir = floor.dataDir ?? ''
    try {
      t.not(dataDir, '', 'the floor has a data dir')
      // One data dir per backend.
      t.is(readdirSync(dataDir).length, 3)
      t.is(floor.procs.length, 4)
      t.true(floor.procs.every((p) => p.name.startsWith(`${store === 'log' ? 'log-floor' : 'floor'}${twoRounds ? '-2rounds' : ''}-`)))
      const bodies = [Buffer.from('first'), Buffer.alloc(4096, 0x63), Buffer.from('third')]
      for (const [i, body] of bodies.entries()) {
        const put = await fetch(`${floor.url}/k/${i}`, { method: 'PUT', body })
        t.is(put.status, 201)
        await put.arrayBuffer()
      }
      for (const [i, body] of bodies.entries()) {
        const got = await fetch(`${floor.url}/k/${i}`)
        t.is(got.status, 200)
        t.deepEqual(Buffer.from(await got.arrayBuffer()), body)
      }
      // Every backend holds every body (the coordinator answered after 2; the third has finished by now or soon).
      t.is(floor.backendUrls.length, 3)
      for (const backend of floor.backendUrls) {
        for (const [i, body] of bodies.entries()) {
          let held: Buffer | undefined
          for (let attempt = 0; attempt < 50 && !held; attempt++) {
            const r = await fetch(`${backend}/k/${i}`)
            const bytes = Buffer.from(await r.arrayBuffer())
            if (r.status === 200) held = bytes
            else await new Promise((done) => setTimeout(done, 100))
          }
          t.deepEqual(held, body, `${backend} holds /k/${i}`)
        }
      }
      // A backend of the floor refuses what it cannot store (a HEAD or DELETE must not overwrite a body).
      const del = await fetch(`${floor.backendUrls[0]}/k/0`, { method: 'DELETE' })
      t.is(del.status, 405)
      await del.arrayBuffer()
      const still = await fetch(`${floor.backendUrls[0]}/k/0`)
      t.deepEqual(Buffer.from(await still.arrayBuffer()), bodies[0])
      const missing = await fetch(`${floor.url}/k/never`)
      t.is(missing.status, 404)
      await missing.arrayBuffer()
    } finally {
      await floor.stop()
    }
    t.false(existsSync(dataDir), 'data dir removed')
    for (const p of floor.procs) t.throws(() => process.kill(p.pid, 0), undefined, `${p.name} stopped`)
  })
}

test('durable floor, two rounds: a PUT goes to one backend first, in turn, and fails if that one fails', async (t) => {
  t.timeout(60_000)
  const floor = await startBaseline({ durable: 'lmdb', twoRounds: true })
  try {
    const first = floor.procs[0] as { pid: number }
    process.kill(first.pid, 'SIGKILL')
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) {
      const put = await fetch(`${floor.url}/two/${i}`, { method: 'PUT', body: Buffer.alloc(4096, 0x64) })
      statuses.push(put.status)
      await put.arrayBuffer()
    }
    // Turns 0 and 3 start at the dead backend: no second round. The others store on the first and on
    // the one live replica: W=2 still met. (A one-round write would have answered 201 every time.)
    t.deepEqual(statuses, [502, 201, 201, 502, 201, 201])
  } finally {
    await floor.stop()
  }
})
