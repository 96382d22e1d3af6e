/** Exit codes of ./dynamoctl, and the error that carries one up to cli.ts, which alone prints it and exits. */

/** What ./dynamoctl's exit status means; documented in docs/access.md and `./dynamoctl --help`. */
export const EXIT = {
  /** The request was done. */
  ok: 0,
  /** The cluster refused the request (4xx: its code and message are printed) or failed it (5xx). */
  refused: 1,
  /** A bad command, flag or value: nothing was sent. */
  usage: 2,
  /** No credentials were found, or the proxy could not be reached. */
  unreachable: 3,
  /** `get`: the key holds concurrent versions (siblings, HTTP 300); they are printed on stderr, nothing is written. */
  siblings: 4,
} as const
export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/** A failure of one command: its exit code, and the cluster's error code when the cluster answered one. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    /** The server's error code (e.g. AccessDenied), or a local one (UsageError, NoCredentials, Unreachable). */
    readonly code: string = exitCode === EXIT.usage ? 'UsageError' : exitCode === EXIT.unreachable ? 'Unreachable' : 'RequestFailed',
    /** The HTTP status of the cluster's answer, when there was one. */
    readonly status?: number,
  ) {
    super(message)
    this.name = 'CliError'
  }
}

export function usageError(message: string): CliError {
  return new CliError(EXIT.usage, message)
}
