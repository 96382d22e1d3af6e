/**
 * `./dynamoctl put FILE bucket/key`, `get bucket/key [FILE]`: objects streamed both ways with flat
 * memory and a progress bar on a terminal. A put is sent with UNSIGNED-PAYLOAD (hashing the file before
 * sending would read it twice) and checked against the answer's ETag instead; a get is checked
 * against `x-content-sha256`, and resumes an interrupted download with Range and If-Match.
 */
import { createHash, type Hash } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { basename, dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import { HEADER_OBJECT_SHA256 } from '../shared/wire/headers.js'
import { CliError, EXIT, usageError } from './errors.js'
import { filesPath, type ObjectClient, readJson, refusalOf } from './object-client.js'
import { hint, line, printJson } from './output.js'
import { mib, progressWanted, startProgress, tap } from './progress.js'
import { formatTable, openTransfer, parseObjectPath } from './transfer-session.js'

interface PutOptions {
  progress: boolean
  contentType?: string
}
interface GetOptions {
  progress: boolean
  version?: string
}

/** The resume record of a download into FILE, kept beside it until the download is whole. */
interface ResumeRecord {
  bucket: string
  key: string
  etag: string
  size: number
  sha256: string
}

/** `.NAME.dynamoctl-resume` in FILE's directory. */
export function resumePath(file: string): string {
  return join(dirname(file), `.${basename(file)}.dynamoctl-resume`)
}

function readResume(file: string, bucket: string, key: string): ResumeRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(resumePath(file), 'utf8')) as Partial<ResumeRecord>
    if (r.bucket !== bucket || r.key !== key || typeof r.etag !== 'string' || typeof r.size !== 'number' || typeof r.sha256 !== 'string') return undefined
    return r as ResumeRecord
  } catch {
    return undefined
  }
}

/** Feeds a hash with the first `bytes` of `file` (the part a resumed download already holds), streamed. */
async function hashPrefix(hash: Hash, file: string, bytes: number): Promise<void> {
  if (bytes === 0) return
  for await (const chunk of createReadStream(file, { start: 0, end: bytes - 1 }) as AsyncIterable<Buffer>) hash.update(chunk)
}

async function put(client: ObjectClient, file: string, bucket: string, key: string, o: PutOptions, json: boolean): Promise<void> {
  let size: number
  try {
    const st = statSync(file)
    if (!st.isFile()) throw usageError(`${file} is not a regular file`)
    size = st.size
  } catch (err) {
    if (err instanceof CliError) throw err
    throw usageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  const md5 = createHash('md5')
  const sha256 = createHash('sha256')
  const bar = startProgress(`put ${key}`, size, 0, progressWanted(!o.progress))
  const started = Date.now()
  const body = createReadStream(file).pipe(
    tap((chunk) => {
      md5.update(chunk)
      sha256.update(chunk)
      bar.add(chunk.length)
    }),
  )
  const headers: Record<string, string> = { 'content-length': String(size), 'content-type': o.contentType ?? 'application/octet-stream' }
  let res: IncomingMessage
  try {
    res = await client.send({ method: 'PUT', path: filesPath(bucket, key), headers, body })
  } finally {
    bar.stop()
  }
  if (res.statusCode !== 201) throw await refusalOf(res, `PUT ${bucket}/${key}`)
  const answer = (await readJson(res, `PUT ${bucket}/${key}`)) as { etag?: string }
  const sums = [md5.digest('hex'), sha256.digest('hex')]
  // The store's ETag is the MD5 of the bytes it received (or their SHA-256): anything else means they were not the file's.
  if (typeof answer.etag === 'string' && !sums.includes(answer.etag))
    throw new CliError(EXIT.refused, `the stored object's ETag ${answer.etag} is not the file's digest ${sums[0]}: the bytes changed on the way; put it again`, 'BadDigest', 201)
  const seconds = Math.max(Date.now() - started, 1) / 1000
  if (json) printJson({ ...answer, file, bytes: size, seconds })
  else line(`${bucket}/${key}: ${size} bytes from ${file}, etag ${answer.etag ?? '-'}, ${mib(size / seconds)}/s`)
}

/** A 300: the siblings, on stderr (stdout of a get is the object's bytes), and exit 4. */
async function siblingsError(res: IncomingMessage, bucket: string, key: string, json: boolean): Promise<CliError> {
  const answer = (await readJson(res, `GET ${bucket}/${key}`)) as { siblings?: { version: string; size: number; etag: string; last_modified: string; node: string }[] }
  const siblings = answer.siblings ?? []
  if (json) process.stderr.write(`${JSON.stringify(answer)}\n`)
  else {
    hint(`${bucket}/${key} has ${siblings.length} concurrent versions (siblings); get one with --version ID, or write over them all with put:`)
    for (const row of formatTable(
      ['VERSION', 'SIZE', 'ETAG', 'LAST MODIFIED', 'NODE'],
      siblings.map((s) => [s.version, String(s.size), s.etag, s.last_modified, s.node]),
    ))
      hint(row)
  }
  return new CliError(EXIT.siblings, `${bucket}/${key} has ${siblings.length} siblings`, 'Siblings', 300)
}

async function get(client: ObjectClient, bucket: string, key: string, file: string | undefined, o: GetOptions, json: boolean): Promise<void> {
  const path = filesPath(bucket, key)
  const query = { version: o.version }
  const have = file !== undefined && existsSync(file) ? statSync(file).size : 0
  const resume = file !== undefined && have > 0 ? readResume(file, bucket, key) : undefined
  const from = resume && have < resume.size ? have : 0
  const headers: Record<string, string> = from > 0 && resume ? { range: `bytes=${from}-`, 'if-match': `"${resume.etag}"` } : {}
  let res = await client.send({ method: 'GET', path, query, headers })
  let start = from
  if (from > 0 && (res.statusCode === 412 || res.statusCode === 416)) {
    // The object changed since the first part was fetched (or the part is not what the record says): start over.
    res.resume()
    hint(`${bucket}/${key} changed since ${file} was begun (HTTP ${res.statusCode}): downloading it again from the start`)
    res = await client.send({ method: 'GET', path, query })
    start = 0
  }
  if (res.statusCode === 300) throw await siblingsError(res, bucket, key, json)
  if (res.statusCode !== 200 && res.statusCode !== 206) throw await refusalOf(res, `GET ${bucket}/${key}`)
  if (res.statusCode === 200) start = 0
  else if (start > 0) hint(`resuming ${file} at ${start} bytes`)
  const etag = String(res.headers.etag ?? '').replace(/^"|"$/g, '')
  const sha256 = String(res.headers[HEADER_OBJECT_SHA256] ?? '')
  const length = Number(res.headers['content-length'] ?? 0)
  const total = start + length
  const hash = createHash('sha256')
  if (file !== undefined) {
    await hashPrefix(hash, file, start)
    writeFileSync(resumePath(file), JSON.stringify({ bucket, key, etag, size: total, sha256 } satisfies ResumeRecord))
  }
  const bar = startProgress(`get ${key}`, total, start, progressWanted(!o.progress))
  const started = Date.now()
  const sink = file === undefined ? process.stdout : createWriteStream(file, { flags: start > 0 ? 'a' : 'w' })
  try {
    await pipeline(
      res,
      tap((chunk) => {
        hash.update(chunk)
        bar.add(chunk.length)
      }),
      sink,
      { end: file !== undefined },
    )
  } catch (err) {
    throw client.transportError(err as NodeJS.ErrnoException)
  } finally {
    bar.stop()
  }
  const got = file !== undefined ? statSync(file).size : total
  if (got !== total) throw new CliError(EXIT.refused, `the transfer stopped at ${got} of ${total} bytes: run the same get again to resume`, 'TransferFailed')
  const digest = hash.digest('hex')
  if (sha256 && digest !== sha256) {
    if (file !== undefined) rmSync(resumePath(file), { force: true })
    throw new CliError(EXIT.refused, `the bytes received hash to ${digest}, not the object's ${sha256}: get it again`, 'BadDigest')
  }
  if (file === undefined) return
  rmSync(resumePath(file), { force: true })
  const seconds = Math.max(Date.now() - started, 1) / 1000
  if (json) printJson({ bucket, key, file, bytes: total, resumed_at: start, etag, content_sha256: sha256, seconds })
  else line(`${bucket}/${key}: ${total} bytes to ${file}${start > 0 ? ` (resumed at ${start})` : ''}, etag ${etag}, ${mib((total - start) / seconds)}/s`)
}

export function addTransferCommands(program: Command): void {
  program
    .command('put')
    .description('upload FILE as bucket/key, streamed (a progress bar on a terminal); prints the stored size and ETag')
    .argument('<file>', 'the file to upload')
    .argument('<bucket/key>', 'where to store it', parseObjectPath)
    .option('--no-progress', 'no progress bar, even on a terminal')
    .option('--content-type <type>', 'the Content-Type to store (default application/octet-stream)')
    .action(async (file: string, target: [string, string], o: PutOptions, cmd: Command) => {
      const s = openTransfer(cmd)
      await put(s.client, file, target[0], target[1], o, s.json)
    })
  program
    .command('get')
    .description('download bucket/key to FILE (resuming an interrupted download into it) or to stdout; exit 4 with the siblings on stderr when the key has several')
    .argument('<bucket/key>', 'the object', parseObjectPath)
    .argument('[file]', 'where to write it (default: stdout)')
    .option('--no-progress', 'no progress bar, even on a terminal')
    .option('--version <id>', 'one sibling, by the version id a 300 lists')
    .action(async (source: [string, string], file: string | undefined, o: GetOptions, cmd: Command) => {
      const s = openTransfer(cmd)
      await get(s.client, source[0], source[1], file === '-' ? undefined : file, o, s.json)
    })
}
