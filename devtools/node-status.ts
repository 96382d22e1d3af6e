/** Waiting for a proxy's view of a node, for every cluster harness (loopback, network namespaces, many hosts). */

interface ClusterNode {
  id: string
  status?: string
  ring_state?: string
}

/** Poll GET /cluster (through `fetchCluster`, which adds the credentials) until node `id` passes `holds`; throws `failure` after `timeoutMs`. */
async function waitForNode(fetchCluster: () => Promise<Response>, id: string, holds: (n: ClusterNode) => boolean, timeoutMs: number, failure: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      const c = (await (await fetchCluster()).json()) as { nodes: ClusterNode[] }
      const node = c.nodes.find((m) => m.id === id)
      if (node && holds(node)) return
    } catch {}
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(failure)
}

/** Until the proxy shows node `id` with `status`. */
export function waitForNodeStatus(fetchCluster: () => Promise<Response>, id: string, status: 'up' | 'down', timeoutMs: number): Promise<void> {
  return waitForNode(fetchCluster, id, (n) => n.status === status, timeoutMs, `${id} did not become ${status} within ${timeoutMs} ms`)
}

/** Until this proxy's ring record shows node `id` in `state` (a joining node turns member only once its holders sent it its ranges). */
export function waitForRingState(fetchCluster: () => Promise<Response>, id: string, state: string, timeoutMs: number): Promise<void> {
  return waitForNode(fetchCluster, id, (n) => n.ring_state === state, timeoutMs, `${id} not ${state} in the proxy's ring within ${timeoutMs} ms`)
}
