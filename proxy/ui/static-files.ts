/**
 * The cluster page's static files (proxy/ui/static/), open to anyone: GET /ui (the page) and
 * GET /ui/<file>. Only the files named in UI_FILES are served, each from memory as read at start, so
 * no request path ever reaches the filesystem (no traversal to guard against). Every answer carries
 * a strict Content-Security-Policy (scripts, styles and fetches from this origin only: no inline
 * script, no framing) and is revalidated by ETag, so an upgrade is seen at the next load. The data
 * the page shows comes from GET /cluster/status, which needs an admin key.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Context } from 'koa'
import type { GuardedRouter } from '../access/guarded-router.js'

/** The files served, with their media types. Only these: a request for anything else under /ui is a 404. */
export const UI_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'cluster-page.js': 'text/javascript; charset=utf-8',
  'ring-view.js': 'text/javascript; charset=utf-8',
  'format.js': 'text/javascript; charset=utf-8',
  'cluster-page.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
}

/**
 * The page's policy: everything from this origin only, nothing inline (the HTML holds no script nor
 * style attribute), no plugins, no framing (clickjacking), forms submitted by script only.
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

interface UiFile {
  type: string
  body: Buffer
  etag: string
}

/** proxy/ui/static beside this module when run from source, or in the source tree when run from dist/ (tsc copies no static files). */
export function uiStaticDir(): string {
  const candidates = [join(import.meta.dirname, 'static'), resolve(import.meta.dirname, '../../../proxy/ui/static')]
  const found = candidates.find((d) => existsSync(join(d, 'index.html')))
  if (!found) throw new Error(`the cluster page's files are not in ${candidates.join(' nor ')}`)
  return found
}

function loadFiles(dir: string): Map<string, UiFile> {
  const files = new Map<string, UiFile>()
  for (const [name, type] of Object.entries(UI_FILES)) {
    const body = readFileSync(join(dir, name))
    files.set(name, { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` })
  }
  return files
}

function serve(ctx: Context, file: UiFile): void {
  ctx.set('Content-Security-Policy', UI_CONTENT_SECURITY_POLICY)
  ctx.set('X-Frame-Options', 'DENY')
  ctx.set('Referrer-Policy', 'no-referrer')
  ctx.set('Cross-Origin-Opener-Policy', 'same-origin')
  ctx.set('Cross-Origin-Resource-Policy', 'same-origin')
  // Kept, but asked about again at every use: the names carry no version, and a small 304 is cheap.
  ctx.set('Cache-Control', 'no-cache')
  ctx.set('ETag', file.etag)
  ctx.type = file.type
  if (
    ctx
      .get('if-none-match')
      .split(/\s*,\s*/)
      .includes(file.etag)
  ) {
    ctx.status = 304
    return
  }
  ctx.body = file.body
}

/** Mount GET (and HEAD) /ui, /ui/ and /ui/<file> for each of UI_FILES, all open. */
export function mountUiRoutes(router: GuardedRouter, dir: string = uiStaticDir()): void {
  const files = loadFiles(dir)
  const page = files.get('index.html') as UiFile
  router.get('/ui', { open: true }, (ctx) => serve(ctx, page))
  router.get('/ui/', { open: true }, (ctx) => serve(ctx, page))
  for (const [name, file] of files) router.get(`/ui/${name}`, { open: true }, (ctx) => serve(ctx, file))
}
