/**
 * Headers that keep stored objects from running as pages of the proxy's origin in a browser:
 * nosniff on every answer, and active content (HTML, SVG, XML, scripts) sent as a download in a
 * script-less sandbox unless the request asks `?inline=true`.
 */
import type { Context, Middleware } from 'koa'
import { InvalidArgumentError } from '../../shared/errors.js'

/** Media types a browser renders as a document or runs as a script in the serving origin. */
const ACTIVE_TYPES: ReadonlySet<string> = new Set([
  'text/html',
  'application/xhtml+xml',
  'image/svg+xml',
  'text/xml',
  'application/xml',
  'text/xsl',
  'application/xslt+xml',
  'text/javascript',
  'text/ecmascript',
  'text/jscript',
  'text/livescript',
  'text/x-javascript',
  'text/x-ecmascript',
  'application/javascript',
  'application/ecmascript',
  'application/x-javascript',
  'application/x-ecmascript',
  'application/x-shockwave-flash',
  'text/cache-manifest',
  'multipart/x-mixed-replace',
])

/** RFC 9110 `type/subtype` made of token characters. */
const MEDIA_TYPE_RE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/

/**
 * True when `contentType` may make a browser render or run the object: an active type (any `+xml`
 * too, and `text/javascript1.5` and the like), case-insensitively and ignoring parameters. A value
 * that is not one plain media type counts as active: browsers read `text/plain, text/html` as its
 * last type, and a type we cannot parse is one we cannot vouch for. No type at all is not active
 * (it is served as application/octet-stream).
 */
export function isActiveContentType(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType.trim() === '') return false
  return contentType.split(',').some((part) => {
    const essence = (part.split(';')[0] ?? '').trim().toLowerCase()
    if (!MEDIA_TYPE_RE.test(essence)) return true
    return ACTIVE_TYPES.has(essence) || essence.endsWith('+xml') || /^(text|application)\/(x-)?(java|ecma)script[0-9.]*$/.test(essence)
  })
}

/** `?inline=true|false` (absent: false); anything else is a 400. */
export function inlineParam(ctx: Context): boolean {
  const raw = ctx.query.inline
  if (raw === undefined || raw === 'false') return false
  if (raw === 'true') return true
  throw new InvalidArgumentError('?inline= must be true or false')
}

/**
 * `attachment` with the key's last segment as the file name: an ASCII fallback (quotes,
 * backslashes and non-printable characters replaced) and the exact name in RFC 8187 form.
 */
export function attachmentDisposition(key: string): string {
  const name =
    key
      .split('/')
      .filter((s) => s !== '')
      .pop() ?? 'download'
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  const exact = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`
}

/**
 * Headers for one object's bytes (GET and HEAD, a sibling's too), judged on the Content-Type as it
 * will be sent (Koa expands a bare `html` to text/html): active content is a download unless asked
 * inline, and always sandboxed (no scripts, an opaque origin) should a browser show it anyway.
 */
export function setObjectSafetyHeaders(ctx: Context, key: string, inline: boolean): void {
  const served = ctx.response.get('Content-Type')
  if (!isActiveContentType(typeof served === 'string' ? served : String(served))) return
  ctx.set('Content-Security-Policy', 'sandbox')
  if (!inline) ctx.set('Content-Disposition', attachmentDisposition(key))
}

/** `X-Content-Type-Options: nosniff` on every answer, errors included: no answer is ever sniffed into a script or page. */
export function noSniff(): Middleware {
  return async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff')
    await next()
  }
}
