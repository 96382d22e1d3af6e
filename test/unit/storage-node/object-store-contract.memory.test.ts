/** The ObjectStore contract (test/contract/object-store.contract.ts) run against the in-memory store of the tests. */
import { hash } from 'node:crypto'
import type { ExecutionContext } from 'ava'
import { type ContractOptions, type OpenedStore, objectStoreContract } from '../../contract/object-store.contract.js'
import { MemoryObjectStore, type MemoryStoreState } from '../../helpers/memory-store.js'

function openOn(t: ExecutionContext, options: ContractOptions, state?: MemoryStoreState): OpenedStore {
  const store = new MemoryObjectStore({ nodeId: 'node-1', ...options, ...(state ? { state } : {}) })
  t.teardown(() => store.close())
  return {
    store,
    body: async (bytes) => {
      const b = Buffer.from(bytes)
      return { kind: 'inline', size: b.length, etag: hash('sha256', b), bytes: b }
    },
    reopen: async () => {
      await store.close()
      return openOn(t, options, store.state)
    },
  }
}

objectStoreContract({ open: async (t, options) => openOn(t, options) })
