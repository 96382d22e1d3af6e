/** What the cluster's processes logged during a scenario: counts by level, the commonest messages, and every error line and crash trace. */
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export interface LogSummary {
  process: string
  lines: number
  byLevel: Record<string, number>
  /** Most frequent warn-or-worse messages. */
  top: { level: string; msg: string; count: number }[]
  /** Error and fatal lines, and lines that are not JSON (stack traces), first few. */
  notable: string[]
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }

export function summarizeLogs(dir: string, maxNotable = 12): LogSummary[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort()
    .map((file) => {
      const byLevel: Record<string, number> = {}
      const msgs = new Map<string, number>()
      const notable: string[] = []
      const lines = readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
      for (const line of lines) {
        let parsed: { level?: number; msg?: string } | undefined
        try {
          parsed = JSON.parse(line) as { level?: number; msg?: string }
        } catch {
          parsed = undefined
        }
        const level = parsed?.level !== undefined ? (LEVELS[parsed.level] ?? String(parsed.level)) : 'raw'
        byLevel[level] = (byLevel[level] ?? 0) + 1
        if (level === 'warn' || level === 'error' || level === 'fatal') msgs.set(`${level}\0${parsed?.msg ?? ''}`, (msgs.get(`${level}\0${parsed?.msg ?? ''}`) ?? 0) + 1)
        if ((level === 'error' || level === 'fatal' || level === 'raw') && notable.length < maxNotable) notable.push(line.slice(0, 600))
      }
      const top = [...msgs]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 6)
        .map(([k, count]) => {
          const [level = '', msg = ''] = k.split('\0')
          return { level, msg, count }
        })
      return { process: file.replace(/\.log$/, ''), lines: lines.length, byLevel, top, notable }
    })
}

export function copyLogs(dir: string, dest: string): void {
  if (existsSync(dir)) cpSync(dir, dest, { recursive: true })
}
