/**
 * iptables inside test namespaces: installing it when missing (Debian's apt), finding a binary that
 * works here, and the few rules the fault suite uses. Rules only ever go into namespaces a test
 * created (each starts with an empty ruleset and takes its rules with it when deleted), never into
 * the root namespace.
 */
import { existsSync } from 'node:fs'
import { command, tryCommand } from './command.js'
import type { NetnsHost } from './netns.js'

/** Debian 12 defaults to the nft backend; the legacy one is the fallback on kernels without nf_tables. */
const NAMES = ['iptables', 'iptables-nft', 'iptables-legacy']
/** Where apt puts them, in case PATH (a non-login shell, a CI runner) leaves out the sbin directories. */
const SBIN = ['/usr/sbin', '/sbin']

/** The iptables binaries that run here, by name on PATH or by absolute path in an sbin directory. */
async function installedBinaries(): Promise<string[]> {
  const out: string[] = []
  for (const name of NAMES) {
    for (const bin of [name, ...SBIN.map((d) => `${d}/${name}`)]) {
      if ((bin.startsWith('/') && !existsSync(bin)) || (await tryCommand(bin, ['--version'], 5000)).code !== 0) continue
      out.push(bin)
      break
    }
  }
  return out
}

/**
 * Make sure an iptables binary exists, installing the apt package `iptables` if none does
 * (needs root and apt; `apt-get update` only when the first install attempt fails, e.g. on a fresh
 * machine with no package lists). Bounded by `deadlineMs` in all. Returns why it could not.
 */
export async function ensureIptablesInstalled(deadlineMs: number, log: (line: string) => void = () => undefined): Promise<{ ok: true } | { ok: false; reason: string }> {
  if ((await installedBinaries()).length > 0) return { ok: true }
  if (!existsSync('/usr/bin/apt-get')) return { ok: false, reason: 'iptables is not installed and there is no apt-get to install it' }
  const deadline = Date.now() + deadlineMs
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = () => tryCommand('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'iptables'], Math.max(1000, deadline - Date.now()), env)
  log('iptables is missing: apt-get install -y iptables')
  let r = await install()
  if (r.code !== 0 && Date.now() < deadline) {
    log('apt-get install failed; apt-get update, then again')
    await tryCommand('apt-get', ['update', '-qq'], Math.max(1000, deadline - Date.now()), env)
    if (Date.now() < deadline) r = await install()
  }
  if ((await installedBinaries()).length > 0) return { ok: true }
  if (r.code === 0) return { ok: false, reason: `apt-get installed iptables, yet no iptables binary runs (looked on PATH and in ${SBIN.join(', ')})` }
  return { ok: false, reason: `apt-get install iptables failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300)}` }
}

/** The first iptables binary that can add, list and flush a rule inside `host`'s namespace. */
export async function workingIptables(host: NetnsHost, probeSource: string): Promise<{ bin: string } | { reason: string }> {
  const reasons: string[] = []
  for (const bin of await installedBinaries()) {
    const ns = ['netns', 'exec', host.namespace, bin, '-w', '5']
    const add = await tryCommand('ip', [...ns, '-A', 'INPUT', '-i', 'eth0', '-s', probeSource, '-j', 'DROP'])
    const list = add.code === 0 ? await tryCommand('ip', [...ns, '-S', 'INPUT']) : add
    const flush = await tryCommand('ip', [...ns, '-F'])
    if (add.code === 0 && list.stdout.includes(probeSource) && flush.code === 0) return { bin }
    reasons.push(`${bin}: ${(add.code !== 0 ? add : list.code !== 0 ? list : flush).stderr.trim().slice(0, 200) || 'rule not listed'}`)
  }
  return { reason: reasons.length > 0 ? reasons.join('; ') : 'no iptables binary found' }
}

/** Rules for one namespace, through one iptables binary. All on INPUT of eth0 (the host's link), so a host's own loopback traffic is never touched. */
export class NamespaceFirewall {
  constructor(
    readonly host: NetnsHost,
    private readonly bin: string,
  ) {}

  private run(args: readonly string[]): Promise<string> {
    return command('ip', ['netns', 'exec', this.host.namespace, this.bin, '-w', '5', ...args])
  }

  /** Drop every packet arriving from these addresses: established connections stall, new ones time out (as on a real cut, not refused). */
  async dropFrom(sources: readonly string[]): Promise<void> {
    for (const s of sources) await this.run(['-A', 'INPUT', '-i', 'eth0', '-s', s, '-j', 'DROP'])
  }

  /** Drop each arriving packet with this probability: real loss, repaired by TCP's retransmissions. */
  async dropRandomly(probability: number): Promise<void> {
    if (!(probability > 0 && probability < 1)) throw new Error(`loss probability ${probability} is not in (0, 1)`)
    await this.run(['-A', 'INPUT', '-i', 'eth0', '-m', 'statistic', '--mode', 'random', '--probability', String(probability), '-j', 'DROP'])
  }

  /** Remove every rule of the filter table (the namespace had none before the test). */
  async flush(): Promise<void> {
    await this.run(['-F'])
  }

  /** The rules in force, as `iptables -S` prints them (policies left out). */
  async rules(): Promise<string[]> {
    return (await this.run(['-S'])).split('\n').filter((l) => l.startsWith('-A '))
  }
}
