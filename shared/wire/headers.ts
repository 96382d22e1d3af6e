/** Header names of the public and internal APIs, defined once. */
export const HEADER_CONTEXT = 'x-context'
export const HEADER_VECTOR_CLOCK = 'x-vector-clock'
export const HEADER_VERSION_ID = 'x-version-id'
export const HEADER_SIBLINGS = 'x-siblings'
export const HEADER_REQUEST_ID = 'x-request-id'

/** Internal: HMAC signature of method + path + timestamp, and its timestamp. */
export const HEADER_SIGNATURE = 'x-store-signature'
export const HEADER_TIMESTAMP = 'x-store-timestamp'
export const HEADER_NONCE = 'x-store-nonce'
/** Internal: base64url JSON metadata that travels beside a streamed body. */
export const HEADER_WRITE = 'x-store-write'
export const HEADER_VERSION = 'x-store-version'
/** Internal: the id of a body staged earlier on the node, used instead of a body. */
export const HEADER_UPLOAD = 'x-store-upload'
/** Internal: a versions answer whose body is the bytes of its one live small version; the versions travel here. */
export const HEADER_VERSIONS = 'x-store-versions'
/** Internal: this write is a hint, held for the named node until it can be handed off (sloppy quorum). */
export const HEADER_HINT_FOR = 'x-store-hint-for'
