/** The object path ./dynamoctl presign signs: RFC 3986 encoding per segment, slashes of the key kept. */
import test from 'ava'
import { objectPath } from '../../../dynamoctl-cli/presign-command.js'

test("each segment is percent-encoded, !'()* included; slashes stay separators", (t) => {
  t.is(objectPath('photos', 'cat.jpg'), '/buckets/photos/files/cat.jpg')
  t.is(objectPath('photos', "we ird/k!ey(1)*'.txt"), '/buckets/photos/files/we%20ird/k%21ey%281%29%2A%27.txt')
  t.is(objectPath('photos', 'é/~a-b_c.d'), '/buckets/photos/files/%C3%A9/~a-b_c.d')
})
