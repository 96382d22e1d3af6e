/**
 * Can network faults be injected here? Checks, rather than assumes, the whole chain the fault
 * suite needs: root, `ip`, iptables (installed through apt when missing), two namespaces on a
 * bridge that reach each other over TCP, and an iptables DROP inside one that really cuts the
 * other off while the root namespace still gets through. Everything it creates is removed.
 */
import { spawn } from 'node:child_process'
import { tryCommand } from './command.js'
import { ensureIptablesInstalled, NamespaceFirewall, workingIptables } from './iptables.js'
import { createTestNetwork, destroyTestNetwork, inNamespace, type TestNetwork } from './netns.js'

export type NetworkFaultSupport = { ok: true; iptables: string } | { ok: false; reason: string }

const PROBE_PORT = 7999

/** A TCP connect from inside `namespace` (or the root one when undefined): true when it got through within `timeoutMs`. */
async function canConnect(namespace: string | undefined, address: string, timeoutMs: number): Promise<boolean> {
  const script = `const s=require('net').connect(${PROBE_PORT},'${address}');s.setTimeout(${timeoutMs},()=>process.exit(3));s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(4))`
  const args = namespace ? ['netns', 'exec', namespace, process.execPath, '-e', script] : undefined
  const r = args ? await tryCommand('ip', args, timeoutMs + 5000) : await tryCommand(process.execPath, ['-e', script], timeoutMs + 5000)
  return r.code === 0
}

async function checkCut(net: TestNetwork, bin: string): Promise<string | undefined> {
  const [a, b] = net.hosts as [TestNetwork['hosts'][0], TestNetwork['hosts'][0]]
  const [cmd, ...prefix] = inNamespace(a)
  const server = spawn(cmd as string, [...prefix, process.execPath, '-e', `require('net').createServer((s)=>s.end()).listen(${PROBE_PORT},'${a.address}',()=>console.log('up'))`], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  try {
    const up = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000)
      server.stdout?.once('data', () => {
        clearTimeout(timer)
        resolve(true)
      })
      server.once('exit', () => resolve(false))
    })
    if (!up) return 'a TCP listener inside a namespace did not start'
    if (!(await canConnect(b.namespace, a.address, 2000))) return 'two namespaces on the bridge cannot reach each other (a FORWARD DROP policy in the root namespace?)'
    if (!(await canConnect(undefined, a.address, 2000))) return 'the root namespace cannot reach a namespace over the bridge'
    const fw = new NamespaceFirewall(a, bin)
    await fw.dropFrom([b.address])
    try {
      if (await canConnect(b.namespace, a.address, 1000)) return `${bin} DROP inside a namespace did not cut the traffic`
      if (!(await canConnect(undefined, a.address, 2000))) return `${bin} DROP of one address cut others too`
    } finally {
      await fw.flush()
    }
    if (!(await canConnect(b.namespace, a.address, 2000))) return 'flushing the rules did not restore the traffic'
    return undefined
  } finally {
    if (server.pid) {
      try {
        process.kill(server.pid, 'SIGKILL')
      } catch {}
    }
  }
}

async function probe(installDeadlineMs: number, log: (line: string) => void): Promise<NetworkFaultSupport> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'network namespaces and iptables need root' }
  const ip = await tryCommand('ip', ['-V'], 5000)
  if (ip.code !== 0) return { ok: false, reason: `no usable \`ip\` command (iproute2): ${ip.stderr.trim().slice(0, 200)}` }
  const installed = await ensureIptablesInstalled(installDeadlineMs, log)
  if (!installed.ok) return installed
  let net: TestNetwork
  try {
    net = await createTestNetwork(['probe-a', 'probe-b'])
  } catch (err) {
    return { ok: false, reason: `cannot create network namespaces: ${err instanceof Error ? err.message : String(err)}` }
  }
  try {
    const [a, b] = net.hosts as [TestNetwork['hosts'][0], TestNetwork['hosts'][0]]
    const found = await workingIptables(a, b.address)
    if ('reason' in found) return { ok: false, reason: `iptables does not work inside a namespace: ${found.reason}` }
    const broken = await checkCut(net, found.bin)
    return broken ? { ok: false, reason: broken } : { ok: true, iptables: found.bin }
  } catch (err) {
    return { ok: false, reason: `probe failed: ${err instanceof Error ? err.message : String(err)}` }
  } finally {
    const problems = await destroyTestNetwork(net)
    if (problems.length > 0) log(`probe cleanup: ${problems.join('; ')}`)
  }
}

let cached: Promise<NetworkFaultSupport> | undefined

/** Whether network faults can be injected here (probed once per process; installs iptables if missing, within `installDeadlineMs`). */
export function probeNetworkFaults(opts: { installDeadlineMs?: number; log?: (line: string) => void } = {}): Promise<NetworkFaultSupport> {
  cached ??= probe(opts.installDeadlineMs ?? 150_000, opts.log ?? (() => undefined))
  return cached
}
