/**
 * Another commit of this repository, built side by side in a temp dir, for tests that run two
 * versions at once (test/cluster/rolling-upgrade.test.ts): the commit's files (`git archive`), its
 * dependencies (this checkout's node_modules, linked, when the two lockfiles are the same; else its
 * own `npm ci`) and its `dist/` (this checkout's TypeScript compiler on its tsconfig.json). Nothing
 * is ever installed through the link: only the compiler and, at run time, Node read it.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const ROOT = resolve(import.meta.dirname, '..')

export interface OtherBuild {
  /** The project root of the build (holds dist/), for TestCluster's `root`. */
  root: string
  commit: string
  remove(): void
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs: number): { ok: boolean; out: string } {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 })
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim() }
}

/**
 * Build `ref` (a tag or commit of this repository) in a temp dir. Throws an Error whose message says
 * why when it cannot (no git, a shallow clone without the commit, a failed install or build).
 */
export function buildAt(ref: string): OtherBuild {
  const commit = run('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], ROOT, 10_000)
  if (!commit.ok) throw new Error(`${ref} is not in this clone (a shallow or partial clone?): ${commit.out || 'git rev-parse found nothing'}`)
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-build-'))
  const remove = () => rmSync(dir, { recursive: true, force: true })
  try {
    const unpacked = run('sh', ['-c', 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', 'sh', ROOT, commit.out, dir], ROOT, 60_000)
    if (!unpacked.ok) throw new Error(`git archive ${ref}: ${unpacked.out}`)
    const sameLock = run('git', ['diff', '--quiet', commit.out, '--', 'package-lock.json'], ROOT, 10_000).ok
    if (sameLock) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
    else {
      const installed = run('npm', ['ci', '--no-audit', '--no-fund'], dir, 600_000)
      if (!installed.ok) throw new Error(`npm ci for ${ref}: ${installed.out.slice(-2000)}`)
    }
    const built = run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], dir, 600_000)
    if (!built.ok) throw new Error(`tsc for ${ref}: ${built.out.slice(-2000)}`)
    return { root: dir, commit: commit.out, remove }
  } catch (err) {
    remove()
    throw err
  }
}
