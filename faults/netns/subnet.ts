/**
 * The address block the test networks are carved from, and the check that a block is not
 * already used by the machine: an address on an interface, or a route (a VPN's, a container
 * bridge's) that a test bridge would shadow.
 */

/**
 * The private /16s of RFC 1918 as [first octet, second octets]: 10/8, 172.16/12 and 192.168/16.
 * Without `DYNAMO_TEST_NET` the test /16 is the first of them, in this order, in which the machine
 * has no address and no route; 10/8 is scanned from its second octet 213 on, wrapping. Nothing is
 * assumed free.
 */
const PRIVATE_SLASH16S: readonly (readonly [number, readonly number[]])[] = [
  [10, Array.from({ length: 256 }, (_, i) => (213 + i) % 256)],
  [172, Array.from({ length: 16 }, (_, i) => 16 + i)],
  [192, [168]],
]

/**
 * The test /16 as its first two octets ("a.b"): `DYNAMO_TEST_NET` (`a.b.0.0/16`, private) when set,
 * else a private /16 free of the machine's addresses and routes, given the output of
 * `ip -4 -o addr show` and `ip -4 route show table all`.
 */
export function testNetPrefix(value: string | undefined, addrOutput: string, routeOutput: string): string {
  const spec = value?.trim()
  if (spec) return privateSlash16(spec)
  for (const [first, seconds] of PRIVATE_SLASH16S) {
    for (const second of seconds) {
      const prefix = `${first}.${second}`
      if (!blockInUse(`${prefix}.0.0/16`, addrOutput, routeOutput)) return prefix
    }
  }
  throw new Error('every private /16 holds an address or a route of this machine: set DYNAMO_TEST_NET to the private /16 to use')
}

function privateSlash16(spec: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.0\.0\/16$/.exec(spec)
  const a = Number(m?.[1])
  const b = Number(m?.[2])
  const isPrivate = PRIVATE_SLASH16S.some(([first, seconds]) => first === a && seconds.includes(b))
  if (!m || !isPrivate) throw new Error(`DYNAMO_TEST_NET must be a private /16 written a.b.0.0/16 (10.x, 172.16-31.x or 192.168.x), got ${JSON.stringify(spec)}`)
  return `${a}.${b}`
}

interface Cidr {
  base: number
  bits: number
}

function parseCidr(text: string): Cidr | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(text)
  if (!m) return undefined
  const octets = m.slice(1, 5).map(Number)
  const bits = m[5] === undefined ? 32 : Number(m[5])
  if (octets.some((o) => o > 255) || bits > 32) return undefined
  const addr = octets.reduce((acc, o) => acc * 256 + o, 0)
  return { base: addr, bits }
}

/** Whether two blocks share an address: equal under the shorter of the two prefixes. */
function overlap(x: Cidr, y: Cidr): boolean {
  const bits = Math.min(x.bits, y.bits)
  const size = 2 ** (32 - bits)
  return Math.floor(x.base / size) === Math.floor(y.base / size)
}

/**
 * Whether `cidr` overlaps a block the machine uses, given the output of `ip -4 -o addr show` and
 * `ip -4 route show table all`. A default route (0.0.0.0/0) is not a use: every block is under it.
 */
export function blockInUse(cidr: string, addrOutput: string, routeOutput: string): boolean {
  const wanted = parseCidr(cidr)
  if (!wanted) throw new Error(`not an IPv4 block: ${cidr}`)
  const used: Cidr[] = []
  for (const m of addrOutput.matchAll(/\binet (\d{1,3}(?:\.\d{1,3}){3}\/\d{1,2})/g)) {
    const c = parseCidr(m[1] as string)
    if (c) used.push({ base: c.base, bits: 32 })
  }
  for (const line of routeOutput.split('\n')) {
    const words = line.trim().split(/\s+/)
    // "local <address> dev ..." / "broadcast <address> ..." in table all: the destination is the second word.
    const dest = /^(unicast|local|broadcast|multicast|anycast|blackhole|unreachable|prohibit|throw)$/.test(words[0] ?? '') ? words[1] : words[0]
    const c = dest ? parseCidr(dest) : undefined
    if (c && c.bits > 0) used.push(c)
  }
  return used.some((u) => overlap(u, wanted))
}
