/**
 * S3's XML: answers built from plain objects (elements in the order given), error documents, and the
 * request bodies S3 clients send (DeleteObjects, CompleteMultipartUpload) parsed with fast-xml-parser.
 */
import { XMLParser } from 'fast-xml-parser'
import { malformedXml } from './errors.js'

export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/'

/** An element's content: text, nested elements (an array value repeats the element), or nothing. */
export type XmlValue = string | number | boolean | null | undefined | XmlNode | XmlValue[]
export interface XmlNode {
  [name: string]: XmlValue
}

/** Escapes the five XML specials, and control characters XML 1.0 cannot carry (keys may hold them) as character references where allowed. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`).replace(/[\t\n\r]/g, (c) => `&#${c.charCodeAt(0)};`)
}

function element(name: string, value: XmlValue): string {
  if (value === undefined) return ''
  if (Array.isArray(value)) return value.map((v) => element(name, v)).join('')
  if (value === null) return `<${name}/>`
  if (typeof value === 'object') return `<${name}>${children(value)}</${name}>`
  return `<${name}>${escapeXml(String(value))}</${name}>`
}

function children(node: XmlNode): string {
  return Object.entries(node)
    .map(([k, v]) => element(k, v))
    .join('')
}

/** A whole document: `<Root xmlns="...">...</Root>` after the XML declaration. */
export function xmlDocument(root: string, body: XmlNode, xmlns = true): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${xmlns ? ` xmlns="${S3_XMLNS}"` : ''}>${children(body)}</${root}>`
}

/** S3's error document. */
export function errorDocument(code: string, message: string, resource: string, requestId: string): string {
  return xmlDocument('Error', { Code: code, Message: message, Resource: resource, RequestId: requestId }, false)
}

// htmlEntities: numeric character references too (rclone sends an ETag's quotes as &#34;).
const parser = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false, trimValues: true, processEntities: true, htmlEntities: true, ignoreDeclaration: true })

/** Parses a request body; a body that is not XML, or whose root is not `root`, is MalformedXML. */
export function parseXmlBody(text: string, root: string): Record<string, unknown> {
  let doc: Record<string, unknown>
  try {
    doc = parser.parse(text, true) as Record<string, unknown>
  } catch (err) {
    throw malformedXml(String((err as Error).message ?? err))
  }
  const top = doc[root]
  if (top === undefined || top === null || typeof top !== 'object') throw malformedXml(`the root element must be ${root}`)
  return top as Record<string, unknown>
}

/** A child that may appear once or many times, as a list. */
export function many(v: unknown): unknown[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v]
}

/** A child's text ('' when absent or empty). */
export function text(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : ''
}
