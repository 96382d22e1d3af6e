import test from 'ava'
import { acceptRequestId } from '../../../proxy/api/request-id.js'

test('plain ids of 1-128 characters are kept', (t) => {
  for (const id of ['a', '0f8fad5b-d9cb-469f-a165-70867728950e', '01ARZ3NDEKTSV4RRFFQ69G5FAV', 'trace:span.1_2-3', 'x'.repeat(128)]) {
    t.is(acceptRequestId(id), id)
  }
})

test('anything else is refused, so it is never echoed, forwarded or logged', (t) => {
  for (const id of [undefined, '', 'x'.repeat(129), 'a\r\nSet-Cookie: x=1', 'a\nb', 'a b', 'a,b', '<script>', 'é', 'id\u0000', 'a"b', 'a;b', 'a/b']) {
    t.is(acceptRequestId(id), undefined, JSON.stringify(id))
  }
})
