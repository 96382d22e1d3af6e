/** zod schemas of clocks, dots and causal contexts: defined once, used by the wire types and the context token. */
import { z } from 'zod'

export const VectorClockSchema = z.record(z.string().min(1).max(200), z.number().int().nonnegative())
export const DotSchema = z.object({ actor: z.string().min(1).max(200), counter: z.number().int().positive() })
/** Every dot up to vv[actor], plus the isolated dots beyond it that were seen (siblings from one actor). */
export const CausalContextSchema = z.object({ vv: VectorClockSchema, dots: z.array(DotSchema).max(10_000) })
/** Id of a client request: one per request, the same on every coordinator it is tried on. */
export const WriteIdSchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/)
/** Most request ids a version, or a read's context, keeps as retired (see retiredBy in versions.ts). */
export const MAX_RETIRED = 8
/** Retried requests whose versions were read and replaced: their late twins are superseded too. */
export const RetiredSchema = z.array(WriteIdSchema).max(MAX_RETIRED)
