/** Waiting for a proxy's view of a node, for every cluster harness (loopback, network namespaces, many hosts). */

/**
 * Poll GET /cluster (through `fetchCluster`, which adds the credentials) until it shows node `id`
 * with `status`; throws after `timeoutMs`.
 */
export async function waitForNodeStatus(fetchCluster: () => Promise<Response>, id: string, status: 'up' | 'down', timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      const c = (await (await fetchCluster()).json()) as { nodes: { id: string; status: string }[] }
      if (c.nodes.find((m) => m.id === id)?.status === status) return
    } catch {}
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${id} did not become ${status} within ${timeoutMs} ms`)
}

/** Poll GET /cluster until this proxy's ring record shows node `id` in `state` (a joining node turns member only once its holders sent it its ranges); throws after `timeoutMs`. */
export async function waitForRingState(fetchCluster: () => Promise<Response>, id: string, state: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      const c = (await (await fetchCluster()).json()) as { nodes: { id: string; ring_state?: string }[] }
      if (c.nodes.find((m) => m.id === id)?.ring_state === state) return
    } catch {}
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${id} not ${state} in the proxy's ring within ${timeoutMs} ms`)
}
