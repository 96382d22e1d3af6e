/**
 * How many replicas a key has: N for objects, every member for the cluster's metadata (bucket
 * records, access keys and grants), so that metadata stays readable whenever any member holding it
 * is up. Every place that slices a preference list to its primaries goes through this.
 */
import { EVERYWHERE_NAMESPACES } from '../constants.js'

export function replicaCount(bucket: string, n: number, members: number): number {
  return EVERYWHERE_NAMESPACES.includes(bucket) ? Math.max(n, members) : n
}
