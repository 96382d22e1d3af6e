import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import test from 'ava'
import { isAlive } from '../../../cluster-ctl/launcher.js'

test('isAlive: this process is alive, a pid that does not exist is not, and neither is a zombie (killed, not yet reaped)', async (t) => {
  t.true(isAlive(process.pid))
  t.false(isAlive(2 ** 22 + 12345))
  // sh starts a child, prints its pid and becomes `sleep`, which never reaps it: once the child
  // exits (after sh is gone, so sh cannot reap it either) it stays a zombie until the sleep ends, as
  // a killed server does until its parent, here PID 1, gets round to it.
  const parent = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 10'], { stdio: ['ignore', 'pipe', 'ignore'] })
  t.teardown(() => parent.kill('SIGKILL'))
  const zombie = await new Promise<number>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))))
  t.true(zombie > 0)
  let state = ''
  for (let i = 0; i < 250 && state !== 'Z'; i++) {
    await new Promise((r) => setTimeout(r, 20))
    state = /\) (\S)/.exec(readFileSync(`/proc/${zombie}/stat`, 'utf8'))?.[1] ?? ''
  }
  t.is(state, 'Z', 'the child became a zombie')
  t.notThrows(() => process.kill(zombie, 0), 'a zombie still answers kill(pid, 0)')
  t.false(isAlive(zombie))
})
