/**
 * Private test networks on one machine (root only): a bridge in the root namespace holding
 * <net>.<k>.1/24, and one network namespace per test host joined to it by a veth pair, host i at
 * <net>.<k>.<10+i>, where <net> is the private /16 of `DYNAMO_TEST_NET`, or else one the machine
 * has no address or route in (see subnet.ts). Processes run inside a host with `ip netns exec`
 * (which execs in place, so a pid stays the process's own). Every network is recorded in a registry file before anything is
 * created, so a run killed with SIGKILL is cleaned up by the next one (`sweepStaleNetworks`).
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { command, tryCommand } from './command.js'
import { blockInUse, testNetPrefix } from './subnet.js'
import { isAlive } from '../../cluster-ctl/launcher.js'

/** /run is a tmpfs, cleared at boot exactly like the namespaces it describes. */
const REGISTRY_DIR = '/run/dynamo-test-netns'
/** Host addresses start at .11 (node-1), leaving .1 to the bridge. */
const FIRST_HOST_OCTET = 10
const MAX_HOSTS = 200

export interface NetnsHost {
  /** The test's name for it (node-1). */
  name: string
  namespace: string
  /** Root-namespace end of its veth pair (the other end is eth0 inside the namespace). */
  veth: string
  address: string
}

export interface TestNetwork {
  /** The third octet of the /24. */
  index: number
  bridge: string
  /** The root namespace's address on the bridge: where processes outside the namespaces (proxy, checker) appear from. */
  bridgeAddress: string
  hosts: readonly NetnsHost[]
}

interface RegistryEntry {
  ownerPid: number
  network: TestNetwork
  /** run/ dir of the cluster using the network: its pid files name the processes outside the namespaces (the proxy) to stop too. */
  runDir?: string
}

function registryFile(index: number): string {
  return join(REGISTRY_DIR, `net-${index}.json`)
}

/** `prefix`: the test /16's first two octets; the network is its /24 number `index`. */
function describe(prefix: string, index: number, names: readonly string[]): TestNetwork {
  // Interface names are limited to 15 bytes: keep them short and derived from the index alone.
  return {
    index,
    bridge: `dyn${index}br`,
    bridgeAddress: `${prefix}.${index}.1`,
    hosts: names.map((name, j) => ({
      name,
      namespace: `dynamo-${index}-${name}`,
      veth: `dyn${index}v${j + 1}`,
      address: `${prefix}.${index}.${FIRST_HOST_OCTET + j + 1}`,
    })),
  }
}

/**
 * Claim a free /24 of the test /16 (all test networks of a run live in one private /16, one /24 per
 * live network): the first index with no registry file (created exclusively, so two runs cannot
 * both claim it) and no address or route of the machine in it.
 */
async function claimIndex(names: readonly string[]): Promise<TestNetwork> {
  mkdirSync(REGISTRY_DIR, { recursive: true })
  const addrs = await command('ip', ['-4', '-o', 'addr', 'show'])
  const routes = await command('ip', ['-4', 'route', 'show', 'table', 'all'])
  const prefix = testNetPrefix(process.env.DYNAMO_TEST_NET, addrs, routes)
  for (let index = 0; index < 256; index++) {
    if (blockInUse(`${prefix}.${index}.0/24`, addrs, routes)) continue
    const network = describe(prefix, index, names)
    let fd: number
    try {
      fd = openSync(registryFile(index), 'wx')
    } catch {
      continue
    }
    try {
      writeSync(fd, JSON.stringify({ ownerPid: process.pid, network } satisfies RegistryEntry))
    } finally {
      closeSync(fd)
    }
    return network
  }
  throw new Error(`no free /24 left in ${prefix}.0.0/16`)
}

/** Create a bridge and one namespace per name; on any failure, removes what it made and throws. */
export async function createTestNetwork(names: readonly string[]): Promise<TestNetwork> {
  if (names.length === 0 || names.length > MAX_HOSTS) throw new Error(`a test network holds 1 to ${MAX_HOSTS} hosts`)
  await sweepStaleNetworks()
  const net = await claimIndex(names)
  try {
    await command('ip', ['link', 'add', net.bridge, 'type', 'bridge'])
    await command('ip', ['addr', 'add', `${net.bridgeAddress}/24`, 'dev', net.bridge])
    await command('ip', ['link', 'set', net.bridge, 'up'])
    for (const h of net.hosts) {
      await command('ip', ['netns', 'add', h.namespace])
      await command('ip', ['link', 'add', h.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.namespace])
      await command('ip', ['link', 'set', h.veth, 'master', net.bridge])
      await command('ip', ['link', 'set', h.veth, 'up'])
      await command('ip', ['-n', h.namespace, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0'])
      await command('ip', ['-n', h.namespace, 'link', 'set', 'eth0', 'up'])
      await command('ip', ['-n', h.namespace, 'link', 'set', 'lo', 'up'])
    }
    return net
  } catch (err) {
    await destroyTestNetwork(net)
    throw err
  }
}

/** Pids of the processes inside a namespace (none when it is gone). */
export async function namespacePids(namespace: string): Promise<number[]> {
  const r = await tryCommand('ip', ['netns', 'pids', namespace])
  if (r.code !== 0) return []
  return r.stdout
    .split(/\s+/)
    .map(Number)
    .filter((p) => Number.isInteger(p) && p > 0)
}

/**
 * Remove a network: SIGKILL (by pid) whatever still runs in its namespaces (the caller stops its
 * processes first; this catches what a crash left), then the namespaces, veths and bridge, then
 * its registry file. Every step is tried, whatever failed before; never throws.
 */
export async function destroyTestNetwork(net: TestNetwork): Promise<string[]> {
  const problems: string[] = []
  for (const h of net.hosts) {
    const pids = await namespacePids(h.namespace)
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
    }
    const deadline = Date.now() + 5000
    while (pids.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  }
  for (const h of net.hosts) {
    // Deleting the namespace deletes its end of the veth pair, and with it the root end.
    const del = await tryCommand('ip', ['netns', 'del', h.namespace])
    if (del.code !== 0 && !/No such file|not found|Cannot remove/i.test(del.stderr)) problems.push(`netns ${h.namespace}: ${del.stderr}`)
    await tryCommand('ip', ['link', 'del', h.veth])
  }
  const br = await tryCommand('ip', ['link', 'del', net.bridge])
  if (br.code !== 0 && !/Cannot find device|does not exist/i.test(br.stderr)) problems.push(`bridge ${net.bridge}: ${br.stderr}`)
  const left = await leftovers(net)
  if (left.length > 0) problems.push(`still present: ${left.join(', ')}`)
  else rmSync(registryFile(net.index), { force: true })
  return problems
}

/** Namespaces and links of the network that still exist. */
export async function leftovers(net: TestNetwork): Promise<string[]> {
  const namespaces = (await tryCommand('ip', ['netns', 'list'])).stdout
  const links = (await tryCommand('ip', ['-o', 'link', 'show'])).stdout
  const names = new Set(namespaces.split('\n').map((l) => l.split(' ')[0]))
  const out: string[] = []
  for (const h of net.hosts) {
    if (names.has(h.namespace)) out.push(h.namespace)
    if (links.includes(` ${h.veth}@`) || links.includes(` ${h.veth}:`)) out.push(h.veth)
  }
  if (links.includes(` ${net.bridge}:`)) out.push(net.bridge)
  return out
}

function registryEntries(): RegistryEntry[] {
  if (!existsSync(REGISTRY_DIR)) return []
  const out: RegistryEntry[] = []
  for (const file of readdirSync(REGISTRY_DIR).filter((f) => /^net-\d+\.json$/.test(f))) {
    try {
      out.push(JSON.parse(readFileSync(join(REGISTRY_DIR, file), 'utf8')) as RegistryEntry)
    } catch {
      // Being written right now by its owner.
    }
  }
  return out
}

/** Record the run/ dir of the cluster on this network, so a sweep after a crash also stops its processes outside the namespaces. */
export function registerRunDir(net: TestNetwork, runDir: string): void {
  writeFileSync(registryFile(net.index), JSON.stringify({ ownerPid: process.pid, network: net, runDir } satisfies RegistryEntry))
}

/** Networks this process created and has not destroyed yet (a test checks its teardown with it). */
export function ownedNetworks(): TestNetwork[] {
  return registryEntries()
    .filter((e) => e.ownerPid === process.pid)
    .map((e) => e.network)
}

/** SIGKILL the storage-node and proxy processes named by pid files in `runDir` (checking each pid still runs our entry points: pids get reused). */
function killRunDirProcesses(runDir: string): void {
  if (!existsSync(runDir)) return
  for (const file of readdirSync(runDir).filter((f) => f.endsWith('.pid'))) {
    const pid = Number(readFileSync(join(runDir, file), 'utf8').trim())
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) continue
    let cmdline = ''
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    } catch {
      continue
    }
    if (!/dist\/(proxy|storage-node)\/main\.js/.test(cmdline)) continue
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
}

/** Whether a network's owner still runs: a zombie (killed, not yet reaped) counts as gone. */
function ownerRuns(pid: number): boolean {
  if (!isAlive(pid)) return false
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces, so read the state after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true
  }
}

/** Destroy the networks whose owning process is gone (a run killed by SIGKILL cannot clean up after itself). */
export async function sweepStaleNetworks(): Promise<number[]> {
  const swept: number[] = []
  for (const entry of registryEntries()) {
    if (ownerRuns(entry.ownerPid)) continue
    if (entry.runDir) killRunDirProcesses(entry.runDir)
    await destroyTestNetwork(entry.network)
    swept.push(entry.network.index)
  }
  return swept
}

/** The command prefix that runs a program inside a host's namespace. */
export function inNamespace(host: NetnsHost): string[] {
  return ['ip', 'netns', 'exec', host.namespace]
}
