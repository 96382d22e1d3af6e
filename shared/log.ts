/** Structured logging: one pino logger per process, a child per component; every line names its node. */
import { pino, type Logger } from 'pino'

export type { Logger }

export function createLogger(processName: string, level: string = 'info'): Logger {
  return pino({ level, base: { node: processName }, timestamp: pino.stdTimeFunctions.isoTime })
}
