/** Header names of the public and internal APIs, defined once. */
export const HEADER_CONTEXT = 'x-context'
export const HEADER_VECTOR_CLOCK = 'x-vector-clock'
export const HEADER_VERSION_ID = 'x-version-id'
export const HEADER_SIBLINGS = 'x-siblings'
export const HEADER_REQUEST_ID = 'x-request-id'
/** Public: hex SHA-256 of an object's bytes, the integrity check replicas verify (the ETag is its MD5). */
export const HEADER_OBJECT_SHA256 = 'x-content-sha256'

/** Internal: the member signature (shared/http/signing.ts) and what it binds: time, nonce, sender, target, body digest. */
export const HEADER_SIGNATURE = 'x-store-signature'
export const HEADER_TIMESTAMP = 'x-store-timestamp'
export const HEADER_NONCE = 'x-store-nonce'
export const HEADER_FROM = 'x-store-from'
export const HEADER_TARGET = 'x-store-target'
/** Internal: hex SHA-256 of a body known before it is sent (JSON, small objects); checked by the receiver. */
export const HEADER_CONTENT_SHA256 = 'x-store-content-sha256'
/** Internal answers: the receiver's clock, and its proof bound to the request's nonce (see peer-clocks.ts). */
export const HEADER_TIME = 'x-store-time'
export const HEADER_TIME_PROOF = 'x-store-time-proof'
/** RPC upgrade answer: the node's half of the channel's key material, and its proof of the secret. */
export const HEADER_CHANNEL_NONCE = 'x-store-channel-nonce'
export const HEADER_CHANNEL_PROOF = 'x-store-channel-proof'
/** Internal: base64url JSON metadata that travels beside a streamed body. */
export const HEADER_WRITE = 'x-store-write'
export const HEADER_VERSION = 'x-store-version'
/** Internal: the id of a body staged earlier on the node, used instead of a body. */
export const HEADER_UPLOAD = 'x-store-upload'
/** Internal: a versions answer whose body is the bytes of its one live small version; the versions travel here. */
export const HEADER_VERSIONS = 'x-store-versions'
/** Internal: this write is a hint, held for the named node until it can be handed off (sloppy quorum). */
export const HEADER_HINT_FOR = 'x-store-hint-for'
