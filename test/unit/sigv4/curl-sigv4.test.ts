// The real curl --aws-sigv4 against the verifier: a local node:http server captures what curl sends, the verifier judges it.
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import test from 'ava'
import { parseSigV4, type SigV4Request, verifySigV4 } from '../../../proxy/access/sigv4-verifier.js'
import { SignatureDoesNotMatchError } from '../../../shared/errors.js'
import { sha256Hex } from '../../../shared/sigv4/canonical.js'

const run = promisify(execFile)
const ID = 'DKCURLTEST0001'
const SECRET = 'curl-secret/with+chars'

function curlVersion(): string | undefined {
  try {
    return execFileSync('curl', ['--version'], { encoding: 'utf8' }).split(' ').slice(0, 2).join(' ')
  } catch {
    return undefined
  }
}

const CURL = curlVersion()

interface Captured {
  req: SigV4Request
  body: Buffer
}

let server: Server
let base = ''
const captured: Captured[] = []
const dir = mkdtempSync(join(tmpdir(), 'curl-sigv4-'))

test.before(async () => {
  server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      captured.push({ req: { method: req.method ?? '', url: req.url ?? '', headers: req.headers, headersDistinct: req.headersDistinct }, body: Buffer.concat(chunks) })
      res.end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

test.after.always(() => {
  server?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Runs curl signing with ID:SECRET and returns what the server received. */
async function curl(path: string, extra: string[] = []): Promise<Captured> {
  const before = captured.length
  await run('curl', ['-sS', '-o', '/dev/null', '--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', `${ID}:${SECRET}`, ...extra, `${base}${path}`])
  const got = captured[before]
  if (!got) throw new Error('the server saw no request')
  return got
}

function verify(c: Captured, secret = SECRET, opts: { bodySha256?: string } = {}) {
  const p = parseSigV4(c.req)
  if (!p) throw new Error(`not SigV4: ${JSON.stringify(c.req.headers)}`)
  return verifySigV4(p, secret, Date.now(), 'us-east-1', opts)
}

const maybe = CURL ? test.serial : test.skip
if (!CURL) test('curl --aws-sigv4 (skipped: curl is not installed)', (t) => t.pass())

maybe(`GET: ${CURL ?? 'curl'} is accepted with the right secret, refused with a wrong one`, async (t) => {
  const got = await curl('/buckets/photos/files/cat.jpg?prefix=a&limit=2')
  t.is(got.req.headers['x-amz-content-sha256'], undefined, 'curl 7.x sends no x-amz-content-sha256')
  t.deepEqual(verify(got).payload, { kind: 'unsigned' })
  t.is(parseSigV4(got.req)?.accessKeyId, ID)
  t.throws(() => verify(got, `${SECRET}x`), { instanceOf: SignatureDoesNotMatchError })
})

maybe('GET of a path and query curl sends unencoded and unsorted ($, *, +, lower-case %2f): curl signs them as sent, which verifies', async (t) => {
  const got = await curl('/buckets/b/files/a$b*c+d(e)?z=1&a=x%2fy&flag')
  t.deepEqual(verify(got).payload, { kind: 'unsigned' })
  t.throws(() => verify(got, 'wrong'), { instanceOf: SignatureDoesNotMatchError })
})

maybe('PUT -T file: signed over the empty body, so the body is unsigned; wrong secret refused', async (t) => {
  const file = join(dir, 'up.bin')
  writeFileSync(file, Buffer.from('uploaded with curl -T\n'.repeat(100)))
  const got = await curl('/buckets/photos/files/up.bin', ['-T', file])
  t.is(got.req.method, 'PUT')
  t.is(got.body.length, 2200)
  t.deepEqual(verify(got).payload, { kind: 'unsigned' })
  t.throws(() => verify(got, 'wrong'), { instanceOf: SignatureDoesNotMatchError })
})

maybe('--data-binary: curl signs the body hash without sending it; verifies once the body hash is given, the body then counts as signed', async (t) => {
  const got = await curl('/buckets/photos/files/form.txt', ['-X', 'PUT', '--data-binary', 'hello from --data-binary'])
  t.is(got.body.toString(), 'hello from --data-binary')
  t.throws(() => verify(got), { instanceOf: SignatureDoesNotMatchError }, 'without the body the empty-body rule cannot match what curl 7.x signed')
  const hex = sha256Hex(got.body)
  t.deepEqual(verify(got, SECRET, { bodySha256: hex }).payload, { kind: 'sha256', hex })
  t.throws(() => verify(got, 'wrong', { bodySha256: hex }), { instanceOf: SignatureDoesNotMatchError })
})
