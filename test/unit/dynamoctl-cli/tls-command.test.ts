/** `./dynamoctl tls init DIR --members ... [--hosts ...]`: what it writes and says, and its usage errors (exit 2). */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import test from 'ava'

const CLI = resolve(import.meta.dirname, '../../../dynamoctl-cli/cli.ts')
const dynamoctl = (...args: string[]) => spawnSync(process.execPath, ['--import=tsx', CLI, ...args], { encoding: 'utf8', timeout: 60_000 })

test('tls init writes the CA and one certificate and key per member; a second run adds only new members', (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'dynamoctl-tls-')), 'tls')
  t.teardown(() => rmSync(join(dir, '..'), { recursive: true, force: true }))
  const first = dynamoctl('tls', 'init', dir, '--members', 'node-1,node-2,proxy-1', '--hosts', '127.0.0.1,localhost')
  t.is(first.status, 0, first.stderr)
  t.regex(first.stdout, /new CA/)
  for (const f of ['ca.crt', 'ca.key', 'node-1.crt', 'node-1.key', 'node-2.crt', 'node-2.key', 'proxy-1.crt', 'proxy-1.key']) t.true(existsSync(join(dir, f)), f)
  const second = dynamoctl('--json', 'tls', 'init', dir, '--members', 'node-1,node-3')
  t.is(second.status, 0, second.stderr)
  const answer = JSON.parse(second.stdout) as { newCa: boolean; written: string[] }
  t.false(answer.newCa)
  t.deepEqual(answer.written, [join(dir, 'node-3.crt'), join(dir, 'node-3.key')])
})

test('tls init: a bad member id or host, or no --members, is a usage error', (t) => {
  t.is(dynamoctl('tls', 'init', '/nonexistent/x', '--members', 'node 1').status, 2)
  t.is(dynamoctl('tls', 'init', '/nonexistent/x', '--members', 'node-1', '--hosts', 'a b').status, 2)
  t.is(dynamoctl('tls', 'init', '/nonexistent/x').status, 2)
})

test("tls revoke writes DIR/ca.crl with the member's certificate on it; an unknown member or a DIR without the CA is refused (exit 1)", (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'dynamoctl-tls-')), 'tls')
  t.teardown(() => rmSync(join(dir, '..'), { recursive: true, force: true }))
  t.is(dynamoctl('tls', 'init', dir, '--members', 'node-1,node-2').status, 0)
  const revoked = dynamoctl('--json', 'tls', 'revoke', dir, 'node-2')
  t.is(revoked.status, 0, revoked.stderr)
  const answer = JSON.parse(revoked.stdout) as { crl: string; serial: string }
  t.is(answer.crl, join(dir, 'ca.crl'))
  t.true(existsSync(answer.crl))
  t.is(dynamoctl('tls', 'revoke', dir, 'node-7').status, 1)
  t.is(dynamoctl('tls', 'revoke', join(dir, '..'), 'node-1').status, 1)
})
