// TEMPORARY local stand-in of the lead while the SigV4 verifier is written (overwrite freely).
export interface ParsedSigV4 {
  accessKeyId: string
  presigned: boolean
}
export function parseSigV4(_req: { method: string; url: string; headers: unknown }): ParsedSigV4 | undefined {
  return undefined
}
export function verifySigV4(_p: ParsedSigV4, _s: string, _n: number, _r: string): { payload: { kind: 'unsigned' } | { kind: 'sha256'; hex: string } } {
  throw new Error('not yet')
}
