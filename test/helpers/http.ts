/** Small fetch helpers for cluster tests. */
export async function json(res: Response): Promise<Record<string, unknown> & { success: boolean }> {
  return (await res.json()) as Record<string, unknown> & { success: boolean }
}

export async function createBucket(base: string, bucket: string): Promise<void> {
  const res = await fetch(`${base}/buckets/${bucket}`, { method: 'POST' })
  if (res.status !== 201) throw new Error(`create bucket ${bucket}: ${res.status} ${await res.text()}`)
}

export function put(base: string, bucket: string, key: string, body: string | Uint8Array, headers: Record<string, string> = {}, query = ''): Promise<Response> {
  return fetch(`${base}/buckets/${bucket}/files/${encodeURIComponent(key)}${query}`, { method: 'PUT', body, headers })
}

export function get(base: string, bucket: string, key: string, query = ''): Promise<Response> {
  return fetch(`${base}/buckets/${bucket}/files/${encodeURIComponent(key)}${query}`)
}
