import test from 'ava'
import { admits, DEFAULT_RESERVE_SHARE, defaultReserveBytes, isFull, MIN_DEFAULT_RESERVE_BYTES } from '../../../storage-node/store/blobs/space-admission.js'

const MiB = 1024 ** 2
const GiB = 1024 ** 3

test('the default reserve is 256 MiB, or 1 % of a filesystem larger than 25 GiB', (t) => {
  t.is(MIN_DEFAULT_RESERVE_BYTES, 256 * MiB)
  t.is(DEFAULT_RESERVE_SHARE, 0.01)
  t.is(defaultReserveBytes(64 * MiB), 256 * MiB, 'a filesystem smaller than the reserve is always full: set --reserve-bytes')
  t.is(defaultReserveBytes(10 * GiB), 256 * MiB)
  t.is(defaultReserveBytes(100 * GiB), Math.ceil(GiB))
  t.is(defaultReserveBytes(4096 * GiB), Math.ceil(40.96 * GiB))
})

test('a body is admitted while the free space after it, and after what admitted bodies still have to write, stays at or above the reserve', (t) => {
  const f = { freeBytes: 100 * MiB, reserveBytes: 10 * MiB, claimedBytes: 0 }
  t.true(admits(f, 90 * MiB), 'leaving exactly the reserve')
  t.false(admits(f, 90 * MiB + 1), 'one byte into the reserve')
  t.true(admits(f, 0))
  t.false(admits({ ...f, claimedBytes: 50 * MiB }, 41 * MiB), 'bodies admitted before claim their room')
  t.true(admits({ ...f, claimedBytes: 50 * MiB }, 40 * MiB))
  t.true(admits(f, -5), 'a negative size counts as none')
})

test('below the reserve the node is full and takes nothing, not even an empty body; at it, it is not full', (t) => {
  t.true(isFull({ freeBytes: 10 * MiB - 1, reserveBytes: 10 * MiB }))
  t.false(isFull({ freeBytes: 10 * MiB, reserveBytes: 10 * MiB }))
  t.false(admits({ freeBytes: 10 * MiB - 1, reserveBytes: 10 * MiB, claimedBytes: 0 }, 0))
  t.true(admits({ freeBytes: 10 * MiB, reserveBytes: 10 * MiB, claimedBytes: 0 }, 0))
})
