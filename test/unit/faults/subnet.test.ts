import test from 'ava'
import { blockInUse, testNetPrefix } from '../../../faults/netns/subnet.js'

const ADDRS = `1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever preferred_lft forever
`
const ROUTES = `default via 192.0.2.1 dev eth0
192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2
10.213.7.0/24 via 192.0.2.254 dev eth0
172.20.0.0/14 dev tun0 scope link
local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1
broadcast 10.99.3.255 dev br9 table local proto kernel scope link src 10.99.3.1
`

test('testNetPrefix: DYNAMO_TEST_NET taken when it is a private /16, anything else refused', (t) => {
  t.is(testNetPrefix('10.77.0.0/16', ADDRS, ROUTES), '10.77')
  t.is(testNetPrefix('172.31.0.0/16', ADDRS, ROUTES), '172.31')
  t.is(testNetPrefix(' 192.168.0.0/16 ', ADDRS, ROUTES), '192.168')
  for (const bad of ['8.8.0.0/16', '172.32.0.0/16', '192.169.0.0/16', '10.213', '10.213.0.0/24', '10.256.0.0/16', '10.1.2.0/16', 'ten']) {
    t.throws(() => testNetPrefix(bad, ADDRS, ROUTES), { message: /DYNAMO_TEST_NET/ }, bad)
  }
})

test('testNetPrefix unset: the first private /16 with no address or route of the machine', (t) => {
  t.is(testNetPrefix(undefined, '', ''), '10.213')
  t.is(testNetPrefix('', '', ''), '10.213')
  t.is(testNetPrefix(undefined, ADDRS, ROUTES), '10.214', '10.213 holds a route')
  t.is(testNetPrefix(undefined, '', 'default via 192.0.2.1 dev eth0\n10.213.0.0/16 dev x\n10.214.9.0/24 dev y\n'), '10.215')
  t.is(testNetPrefix(undefined, '', '10.0.0.0/8 dev tun0\n'), '172.16', 'a 10/8 VPN: the next private block')
  t.is(testNetPrefix(undefined, '', '10.0.0.0/8 dev tun0\n172.16.0.0/12 dev tun1\n'), '192.168')
  t.throws(() => testNetPrefix(undefined, '', '10.0.0.0/8 dev a\n172.16.0.0/12 dev b\n192.168.0.0/16 dev c\n'), { message: /DYNAMO_TEST_NET/ })
  // Property: whatever /16s are routed, the choice is free and every candidate before it is used.
  for (let seed = 0; seed < 50; seed++) {
    const routed = Array.from({ length: 1 + (seed % 7) }, (_, i) => (213 + ((seed * 31 + i * 7) % 40)) % 256)
    const routes = routed.map((b) => `10.${b}.${seed % 256}.0/24 dev t${b}`).join('\n')
    const prefix = testNetPrefix(undefined, '', routes)
    t.false(blockInUse(`${prefix}.0.0/16`, '', routes), prefix)
    const second = Number(prefix.split('.')[1])
    for (let b = 213; b !== second; b = (b + 1) % 256) t.true(routed.includes(b), `10.${b} skipped only if routed`)
  }
})

test('blockInUse: an address or a route of the machine inside or around the /24 makes it used; the default route does not', (t) => {
  t.false(blockInUse('10.213.0.0/24', ADDRS, ROUTES))
  t.true(blockInUse('10.213.7.0/24', ADDRS, ROUTES), 'routed elsewhere')
  t.false(blockInUse('10.213.8.0/24', ADDRS, ROUTES))
  t.true(blockInUse('172.21.5.0/24', ADDRS, ROUTES), 'inside a wider route')
  t.false(blockInUse('172.24.5.0/24', ADDRS, ROUTES))
  t.true(blockInUse('192.0.2.0/24', ADDRS, ROUTES), 'an interface address')
  t.true(blockInUse('10.99.3.0/24', ADDRS, ROUTES), 'a local-table entry')
  t.true(blockInUse('10.0.0.0/8', ADDRS, ROUTES), 'a wider block around a route')
  t.throws(() => blockInUse('nonsense', ADDRS, ROUTES))
})

test('blockInUse: property, every /24 of a /16 route is used and every /24 outside it is not', (t) => {
  const routes = 'default via 10.0.0.1 dev eth0\n10.40.0.0/16 dev wg0 scope link\n'
  for (let second = 0; second < 256; second += 3) {
    for (let third = 0; third < 256; third += 17) {
      t.is(blockInUse(`10.${second}.${third}.0/24`, '', routes), second === 40, `10.${second}.${third}.0/24`)
    }
  }
})
