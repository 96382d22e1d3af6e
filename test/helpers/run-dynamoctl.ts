/** Runs the built ./dynamoctl (dist/dynamoctl-cli/cli.js) as a process, as a user would, for the cluster tests. */
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'

const CLI = resolve(import.meta.dirname, '../../dist/dynamoctl-cli/cli.js')

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * `dynamoctl ARGS` with none of the caller's credentials (AWS_*, DYNAMO_URL, CLUSTER_SECRET,
 * PROXY_PORT, RUN_DIR), RUN_DIR set to `runDir`, then `env`; killed after `killAfterMs` (none: never).
 */
export function runDynamoctl(args: readonly string[], runDir: string, env: Record<string, string> = {}, killAfterMs?: number): Promise<Run> {
  const clean: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^(AWS_|DYNAMO_URL$|CLUSTER_SECRET$|PROXY_PORT$|RUN_DIR$)/.test(k)) clean[k] = v
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...clean, RUN_DIR: runDir, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d
    })
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs)
    child.on('error', fail)
    child.on('close', (code) => {
      clearTimeout(timer)
      done({ code, stdout, stderr })
    })
  })
}
