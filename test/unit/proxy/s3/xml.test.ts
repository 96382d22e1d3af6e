import test from 'ava'
import { errorDocument, escapeXml, many, parseXmlBody, text, xmlDocument } from '../../../../proxy/s3/xml.js'

test('documents: elements in order, arrays repeat, specials escaped, namespace on the root', (t) => {
  const doc = xmlDocument('ListBucketResult', { Name: 'b', Contents: [{ Key: 'a<&>"\'' }, { Key: 'b' }], Empty: null, Skipped: undefined, IsTruncated: false })
  t.is(
    doc,
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Contents><Key>a&lt;&amp;&gt;&quot;&apos;</Key></Contents><Contents><Key>b</Key></Contents><Empty/><IsTruncated>false</IsTruncated></ListBucketResult>',
  )
  t.is(escapeXml('a\nb'), 'a&#10;b')
})

test('error documents carry code, message, resource and request id', (t) => {
  t.is(
    errorDocument('NoSuchKey', 'no <key>', '/b/k', 'r1'),
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>no &lt;key&gt;</Message><Resource>/b/k</Resource><RequestId>r1</RequestId></Error>',
  )
})

test('DeleteObjects and CompleteMultipartUpload bodies parse, with or without the namespace; one or many children', (t) => {
  const one = parseXmlBody('<?xml version="1.0"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object></Delete>', 'Delete')
  t.is(text(one.Quiet), 'true')
  t.deepEqual(
    many(one.Object).map((o) => text((o as Record<string, unknown>).Key)),
    ['a&b'],
  )
  const two = parseXmlBody('<Delete><Object><Key>1</Key></Object><Object><Key>007</Key></Object></Delete>', 'Delete')
  t.deepEqual(
    many(two.Object).map((o) => text((o as Record<string, unknown>).Key)),
    ['1', '007'],
  )
  const parts = parseXmlBody('<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>', 'CompleteMultipartUpload')
  t.is(many(parts.Part).length, 1)
  // rclone escapes an ETag's quotes as numeric character references.
  const rclone = parseXmlBody('<CompleteMultipartUpload><Part><ETag>&#34;ab&#34;</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>', 'CompleteMultipartUpload')
  t.is(text((many(rclone.Part)[0] as Record<string, unknown>).ETag), '"ab"')
})

test('malformed or wrong-rooted bodies are MalformedXML', (t) => {
  t.throws(() => parseXmlBody('<Delete><Object>', 'Delete'), { code: 'MalformedXML' })
  t.throws(() => parseXmlBody('not xml at all', 'Delete'), { code: 'MalformedXML' })
  t.throws(() => parseXmlBody('<Other/>', 'Delete'), { code: 'MalformedXML' })
})
