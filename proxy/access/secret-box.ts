/**
 * Access-key secrets at rest: sealed with AES-256-GCM under a key derived with HKDF-SHA256 from the
 * cluster secret, the key id as additional data (a sealed secret moved to another key's record does
 * not open). Each sealed secret names the derived key that sealed it (`kid`), so a proxy holding the
 * old and the new cluster secret during a rotation opens both and re-seals the old ones.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'
import type { SealedSecret } from '../../shared/wire/access-records.js'

const INFO = 'dynamo access-key secrets v1'

interface DerivedKey {
  kid: string
  key: Buffer
}

function derive(clusterSecret: string): DerivedKey {
  const key = Buffer.from(hkdfSync('sha256', clusterSecret, 'dynamo-access-keys', INFO, 32))
  return { kid: createHash('sha256').update('kid').update(key).digest('hex').slice(0, 16), key }
}

export class SecretBox {
  private readonly sealing: DerivedKey
  private readonly opening: Map<string, DerivedKey>

  /** `secrets[0]` seals; every one of them opens (the cluster secret first, then any being rotated out). */
  constructor(secrets: readonly string[]) {
    if (secrets.length === 0) throw new Error('a secret box needs the cluster secret')
    const keys = secrets.map(derive)
    this.sealing = keys[0] as DerivedKey
    this.opening = new Map(keys.map((k) => [k.kid, k]))
  }

  get currentKid(): string {
    return this.sealing.kid
  }

  seal(keyId: string, secret: string): SealedSecret {
    const iv = randomBytes(12)
    const c = createCipheriv('aes-256-gcm', this.sealing.key, iv)
    c.setAAD(Buffer.from(keyId))
    const ct = Buffer.concat([c.update(secret, 'utf8'), c.final()])
    return { kid: this.sealing.kid, iv: iv.toString('base64'), ct: ct.toString('base64'), tag: c.getAuthTag().toString('base64') }
  }

  /** The secret, or undefined when no secret this proxy holds sealed it (or it was tampered with). */
  open(keyId: string, sealed: SealedSecret): string | undefined {
    const k = this.opening.get(sealed.kid)
    if (!k) return undefined
    try {
      const d = createDecipheriv('aes-256-gcm', k.key, Buffer.from(sealed.iv, 'base64'))
      d.setAAD(Buffer.from(keyId))
      d.setAuthTag(Buffer.from(sealed.tag, 'base64'))
      return Buffer.concat([d.update(Buffer.from(sealed.ct, 'base64')), d.final()]).toString('utf8')
    } catch {
      return undefined
    }
  }
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** Uniform characters from `alphabet` (rejection sampling: no modulo bias). */
function randomText(alphabet: string, length: number): string {
  let out = ''
  const limit = 256 - (256 % alphabet.length)
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < limit && out.length < length) out += alphabet[b % alphabet.length]
    }
  }
  return out
}

/** A new access key: `DK` + 18 of A-Z0-9, and a 40-character secret (~238 bits). */
export function newAccessKey(): { id: string; secret: string } {
  return { id: `DK${randomText(ID_ALPHABET, 18)}`, secret: randomText(SECRET_ALPHABET, 40) }
}
