import test from 'ava'
import { newAccessKey, SecretBox } from '../../../../proxy/access/secret-box.js'
import { ACCESS_KEY_ID_RE, SECRET_KEY_RE } from '../../../../shared/wire/access-api.js'

test('new keys have the AWS shape and do not repeat', (t) => {
  const seen = new Set<string>()
  for (let i = 0; i < 2000; i++) {
    const k = newAccessKey()
    t.regex(k.id, ACCESS_KEY_ID_RE)
    t.regex(k.secret, SECRET_KEY_RE)
    t.false(seen.has(k.id))
    seen.add(k.id)
  }
})

test('a sealed secret opens with its key id only, and not after tampering', (t) => {
  const box = new SecretBox(['the cluster secret, long enough'])
  const { id, secret } = newAccessKey()
  const sealed = box.seal(id, secret)
  t.false(JSON.stringify(sealed).includes(secret))
  t.is(box.open(id, sealed), secret)
  t.is(box.open(newAccessKey().id, sealed), undefined)
  const ct = Buffer.from(sealed.ct, 'base64')
  ct[0] = (ct[0] as number) ^ 1
  t.is(box.open(id, { ...sealed, ct: ct.toString('base64') }), undefined)
  t.is(new SecretBox(['another cluster secret, long enough']).open(id, sealed), undefined)
})

test('during a cluster secret rotation both secrets open, and the new one seals', (t) => {
  const old = new SecretBox(['the old cluster secret, long enough'])
  const both = new SecretBox(['the new cluster secret, long enough', 'the old cluster secret, long enough'])
  const { id, secret } = newAccessKey()
  const sealedOld = old.seal(id, secret)
  t.is(both.open(id, sealedOld), secret)
  const resealed = both.seal(id, secret)
  t.not(resealed.kid, sealedOld.kid)
  t.is(resealed.kid, both.currentKid)
  t.is(new SecretBox(['the new cluster secret, long enough']).open(id, resealed), secret)
})
