/** Running a system command (ip, iptables, apt-get) with a deadline, its output captured. */
import { execFile } from 'node:child_process'

export interface CommandResult {
  code: number
  stdout: string
  stderr: string
}

/** Run `cmd args` (no shell); never throws: a missing binary or a deadline is a non-zero code with the reason in stderr. */
export function tryCommand(cmd: string, args: readonly string[], timeoutMs = 10_000, env?: NodeJS.ProcessEnv): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(cmd, [...args], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024, env: env ?? process.env }, (err, stdout, stderr) => {
      if (!err) return resolve({ code: 0, stdout, stderr })
      const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean }
      const why = e.killed ? `killed after ${timeoutMs} ms` : typeof e.code === 'string' ? `${e.code}: ${e.message}` : ''
      resolve({ code: typeof e.code === 'number' ? e.code : 127, stdout, stderr: [stderr.trim(), why].filter(Boolean).join('; ') })
    })
  })
}

/** Run `cmd args`; throws with the command line and its stderr when it fails. */
export async function command(cmd: string, args: readonly string[], timeoutMs = 10_000): Promise<string> {
  const r = await tryCommand(cmd, args, timeoutMs)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim().slice(0, 500)}`)
  return r.stdout
}
