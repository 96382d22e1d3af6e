/** Formatting for the cluster page: sizes, shares, ages, and one color per node. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** 1536 -> "1.5 KiB". */
export function formatBytes(n) {
  if (!Number.isFinite(n)) return '–'
  let v = n
  let u = 0
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024
    u++
  }
  return `${v >= 100 || u === 0 ? Math.round(v) : v.toFixed(1)} ${UNITS[u]}`
}

/** 0.2531 -> "25.3 %". */
export function formatShare(x) {
  return `${(x * 100).toFixed(1)} %`
}

/** Requests per second, to a sensible precision. */
export function formatRate(x) {
  if (!Number.isFinite(x)) return '–'
  return x >= 10 ? String(Math.round(x)) : x.toFixed(1)
}

/** How long ago `iso` was, from `nowMs`: "now", "4 s ago", "3 min ago", "2 h ago". */
export function formatAge(iso, nowMs) {
  const s = Math.max(0, Math.round((nowMs - Date.parse(iso)) / 1000))
  if (s < 2) return 'now'
  if (s < 120) return `${s} s ago`
  if (s < 7200) return `${Math.round(s / 60)} min ago`
  return `${Math.round(s / 3600)} h ago`
}

/** Colors that stay apart for the first dozen nodes (then they repeat). */
const PALETTE = ['#2b6cb0', '#d69e2e', '#38a169', '#805ad5', '#dd6b20', '#319795', '#b83280', '#718096', '#2c7a7b', '#975a16', '#553c9a', '#2f855a']

/** A node's color: by its place among the sorted ids, so every page and every poll agree. */
export function nodeColor(id, sortedIds) {
  const i = sortedIds.indexOf(id)
  return PALETTE[Math.max(i, 0) % PALETTE.length]
}

/** Remove every child of `el`. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild)
}

/** A new element with a class and a text (never HTML: bucket and key names are shown as typed). */
export function el(tag, className, text) {
  const e = document.createElement(tag)
  if (className) e.className = className
  if (text !== undefined) e.textContent = text
  return e
}
