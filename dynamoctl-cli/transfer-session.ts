/** What the object commands share (`bucket/key` arguments, the signed object client), and `ls` and `rm`. */
import type { Command } from 'commander'
import { InvalidArgumentError, parseIntArg } from '../devtools/command-line.js'
import { assertBucketName, assertKey } from '../shared/names.js'
import { type GlobalOptions, resolveSigning, resolveUrl } from './credentials.js'
import { filesPath, type ObjectClient, objectClientOf, readJson, refusalOf } from './object-client.js'
import { line } from './output.js'

/** Files per page of `ls` unless --page-size says otherwise (the proxy's own default and maximum is 1,000). */
const LS_PAGE_SIZE = 1000

export interface TransferSession {
  client: ObjectClient
  json: boolean
}

export function openTransfer(cmd: Command, env: NodeJS.ProcessEnv = process.env): TransferSession {
  const opts = cmd.optsWithGlobals<GlobalOptions>()
  const url = resolveUrl(opts, env)
  return { client: objectClientOf(url, resolveSigning(opts, env)), json: opts.json === true }
}

function checked<T>(check: () => T): T {
  try {
    return check()
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
}

/** `bucket/key` (the key may hold slashes): a malformed one is a usage error (exit 2), never sent. */
export function parseObjectPath(text: string): [string, string] {
  const slash = text.indexOf('/')
  if (slash < 0 || slash === text.length - 1) throw new InvalidArgumentError('expected bucket/key')
  const bucket = text.slice(0, slash)
  const key = text.slice(slash + 1)
  checked(() => assertBucketName(bucket))
  checked(() => assertKey(key))
  return [bucket, key]
}

/** `bucket` or `bucket/prefix`. */
export function parseBucketPrefix(text: string): [string, string] {
  const slash = text.indexOf('/')
  const bucket = slash < 0 ? text : text.slice(0, slash)
  checked(() => assertBucketName(bucket))
  return [bucket, slash < 0 ? '' : text.slice(slash + 1)]
}

/** Rows padded to their widest cell (the last column is not padded). */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  return [header, ...rows].map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  )
}

interface ListedFile {
  key: string
  size: number
  etag: string
  last_modified: string
  siblings: number
}

/** Every file under `prefix`, page by page (`?prefix=&limit=&cursor=`); each page printed as it arrives, so memory stays flat. */
async function ls(s: TransferSession, bucket: string, prefix: string, pageSize: number): Promise<void> {
  let cursor: string | undefined
  let first = true
  let count = 0
  do {
    const what = `GET ${bucket}/ listing`
    const res = await s.client.send({ method: 'GET', path: filesPath(bucket), query: { prefix: prefix || undefined, limit: String(pageSize), cursor } })
    if (res.statusCode !== 200) throw await refusalOf(res, what)
    const page = (await readJson(res, what)) as { files?: ListedFile[]; next_cursor?: string | null }
    const files = page.files ?? []
    count += files.length
    // --json: one JSON object per file and line (a listing may be long: no array to hold whole).
    if (s.json) for (const f of files) line(JSON.stringify(f))
    else if (files.length > 0) {
      // Fixed-width columns, so pages printed one by one line up.
      if (first) line(`${'SIZE'.padStart(14)}  ${'LAST MODIFIED'.padEnd(24)}  SIBLINGS  KEY`)
      for (const f of files) line(`${String(f.size).padStart(14)}  ${f.last_modified.padEnd(24)}  ${String(f.siblings).padStart(8)}  ${f.key}`)
      first = false
    }
    cursor = page.next_cursor ?? undefined
  } while (cursor !== undefined)
  if (!s.json && count === 0) process.stderr.write(`no files in ${bucket}${prefix ? ` under ${prefix}` : ''}\n`)
}

async function rm(s: TransferSession, bucket: string, key: string): Promise<void> {
  const res = await s.client.send({ method: 'DELETE', path: filesPath(bucket, key) })
  if (res.statusCode !== 200) throw await refusalOf(res, `DELETE ${bucket}/${key}`)
  const answer = await readJson(res, `DELETE ${bucket}/${key}`)
  if (s.json) line(JSON.stringify(answer, null, 2))
  else line(`deleted ${bucket}/${key}`)
}

export function addListCommands(program: Command): void {
  program
    .command('ls')
    .description('list the files of a bucket (under a prefix), all pages; --json: one JSON object per line')
    .argument('<bucket[/prefix]>', 'the bucket, and the prefix the keys start with', parseBucketPrefix)
    .option('--page-size <n>', 'files asked for per request, 1..1000', parseIntArg(1, LS_PAGE_SIZE), LS_PAGE_SIZE)
    .action(async (target: [string, string], o: { pageSize: number }, cmd: Command) => ls(openTransfer(cmd), target[0], target[1], o.pageSize))
  program
    .command('rm')
    .description('delete bucket/key (a tombstone over every version a quorum read sees)')
    .argument('<bucket/key>', 'the object', parseObjectPath)
    .action(async (target: [string, string], _o: unknown, cmd: Command) => rm(openTransfer(cmd), target[0], target[1]))
}
