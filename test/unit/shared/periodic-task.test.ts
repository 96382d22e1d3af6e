import test from 'ava'
import { PeriodicTask } from '../../../shared/periodic-task.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('runs every interval, never two at once; a failed run is reported and the next one still runs; stop waits for the run in flight', async (t) => {
  let runs = 0
  let concurrent = 0
  let most = 0
  const errors: unknown[] = []
  const task = new PeriodicTask(
    async () => {
      runs++
      concurrent++
      most = Math.max(most, concurrent)
      await sleep(25)
      concurrent--
      if (runs === 1) throw new Error('first run fails')
    },
    5,
    (err) => errors.push(err),
  )
  task.start()
  await sleep(150)
  await task.stop()
  t.is(concurrent, 0, 'stop waited for the run in flight')
  t.is(most, 1)
  t.true(runs >= 3, `ran ${runs} times`)
  t.is(errors.length, 1)
  const after = runs
  await sleep(40)
  t.is(runs, after, 'no run after stop')
})

test('an interval of 0 never runs', async (t) => {
  let runs = 0
  const task = new PeriodicTask(
    async () => runs++,
    0,
    () => {},
  )
  task.start()
  await sleep(30)
  await task.stop()
  t.is(runs, 0)
})
