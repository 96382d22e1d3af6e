import test from 'ava'
import { attachmentDisposition, isActiveContentType } from '../../../proxy/api/browser-safety.js'

test('active types are recognised whatever their case and parameters', (t) => {
  for (const type of [
    'text/html',
    'TEXT/HTML; charset=utf-8',
    ' text/html ;charset=x',
    'application/xhtml+xml',
    'image/svg+xml',
    'Image/SVG+XML; foo=bar',
    'text/xml',
    'application/xml',
    'application/rss+xml',
    'application/atom+xml',
    'text/javascript',
    'application/javascript; charset=utf-8',
    'application/ecmascript',
    'text/ecmascript',
    'application/x-javascript',
    'text/javascript1.5',
  ]) {
    t.true(isActiveContentType(type), type)
  }
})

test('passive types are served as they are', (t) => {
  for (const type of [
    undefined,
    '',
    'text/plain',
    'text/plain; charset=utf-8',
    'image/png',
    'image/jpeg',
    'application/json',
    'application/octet-stream',
    'application/pdf',
    'text/css',
    'video/mp4',
    'text/csv',
  ]) {
    t.false(isActiveContentType(type), String(type))
  }
})

test('a list of types, or a value that is no plain media type, counts as active', (t) => {
  // Browsers take the last type of a list: text/plain, text/html renders as HTML.
  t.true(isActiveContentType('text/plain, text/html'))
  t.true(isActiveContentType('html'))
  t.true(isActiveContentType('text/html\u0000'))
  t.true(isActiveContentType('text /html'))
  t.true(isActiveContentType('/'))
})

test("the attachment names the key's last segment, safely quoted, and exactly in UTF-8", (t) => {
  t.is(attachmentDisposition('a/b/page.html'), `attachment; filename="page.html"; filename*=UTF-8''page.html`)
  t.is(attachmentDisposition('x"y\\z.svg'), `attachment; filename="x_y_z.svg"; filename*=UTF-8''x%22y%5Cz.svg`)
  t.is(attachmentDisposition('résumé (1).html'), `attachment; filename="r_sum_ (1).html"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%281%29.html`)
  t.is(attachmentDisposition('dir/'), `attachment; filename="dir"; filename*=UTF-8''dir`)
  t.is(attachmentDisposition('/'), `attachment; filename="download"; filename*=UTF-8''download`)
})
