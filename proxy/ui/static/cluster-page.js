/**
 * The cluster page: asks once for an access key (kept in this tab's session storage, sent as HTTP
 * Basic), then polls GET /cluster/status every POLL_MS and draws what it says. Polling with fetch, not
 * EventSource, which cannot send an Authorization header. Request rates are the difference between
 * two answers' counters. Every text is set as text, never as HTML.
 */
import { clear, el, formatAge, formatBytes, formatRate } from './format.js'
import { RingView } from './ring-view.js'

/** How often the page asks: a node killed shows down within the cluster's failure detection plus this. */
const POLL_MS = 1000
/** A poll that takes longer is given up (and counted as the proxy unreachable). */
const POLL_TIMEOUT_MS = 5000
/** Samples kept for the rate chart: a minute at POLL_MS. */
const HISTORY = 60
/** The rate shown in large is averaged over this many samples back. */
const RATE_WINDOW = 5
const STORAGE_KEY = 'dynamo.cluster-page.basic'

const $ = (id) => document.getElementById(id)

const ring = new RingView($('ring'), $('ring-legend'))
/** { t: ms, requests } per answer, oldest first. */
let history = []
let timer
/** The current polling loop: a poll of an older one (before the key changed) schedules no next poll. */
let loop = 0

function storedAuth() {
  return sessionStorage.getItem(STORAGE_KEY)
}

/** base64 of UTF-8 `id:secret`. */
function basic(id, secret) {
  const bytes = new TextEncoder().encode(`${id}:${secret}`)
  let s = ''
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s)
}

function askForKey(message) {
  loop++
  clearTimeout(timer)
  sessionStorage.removeItem(STORAGE_KEY)
  $('dashboard').hidden = true
  $('forget').hidden = true
  $('key-form').hidden = false
  $('key-error').textContent = message ?? ''
  $('connection').textContent = ''
  $('key-id').focus()
}

function showDashboard() {
  $('key-form').hidden = true
  $('forget').hidden = false
  $('dashboard').hidden = false
}

async function poll(gen = loop) {
  if (gen !== loop) return
  const auth = storedAuth()
  if (!auth) return askForKey()
  const abort = new AbortController()
  const giveUp = setTimeout(() => abort.abort(), POLL_TIMEOUT_MS)
  try {
    const res = await fetch('/cluster/status', { headers: { authorization: `Basic ${auth}` }, cache: 'no-store', signal: abort.signal })
    if (gen !== loop) return
    if (res.status === 401 || res.status === 403) {
      const body = await res.json().catch(() => ({}))
      return askForKey(body?.error?.message ?? `refused (${res.status})`)
    }
    if (!res.ok) throw new Error(`the proxy answered ${res.status}`)
    const status = await res.json()
    showDashboard()
    render(status)
    setConnection(true, `updated ${new Date(status.at).toLocaleTimeString()}`)
  } catch (err) {
    setConnection(false, `proxy unreachable: ${err instanceof Error ? err.message : String(err)}; retrying`)
  } finally {
    clearTimeout(giveUp)
  }
  if (gen === loop) timer = setTimeout(() => poll(gen), POLL_MS)
}

function setConnection(ok, text) {
  const c = $('connection')
  c.textContent = text
  c.dataset.ok = String(ok)
}

function render(status) {
  const now = Date.parse(status.at)
  const up = status.nodes.filter((n) => n.status === 'up').length
  $('summary').textContent = `${up} of ${status.nodes.length} nodes up · N=${status.n} R=${status.r} W=${status.w}`
  document.body.dataset.nodesUp = String(up)
  ring.update(status)
  renderNodes(status, now)
  renderHints(status.pending_hints)
  renderRates(status)
  renderEvents($('conflicts'), status.conflicts.recent, now, 'No read has found siblings since the proxy started.')
  renderEvents($('repairs'), status.repairs.recent, now, 'No read repair since the proxy started.')
  $('conflict-totals').textContent = `Reads that found siblings since the proxy started: ${status.conflicts.sibling_reads}`
  const r = status.repairs
  $('repair-totals').textContent = `read repairs ${r.read_repairs} (failed ${r.read_repair_failures}) · anti-entropy keys repaired ${r.anti_entropy_keys_repaired}`
  const p = status.proxy
  $('proxy-line').textContent = `This proxy: up ${Math.round(p.uptime_s / 60)} min, RSS ${formatBytes(p.memory.rss_bytes)}, heap ${formatBytes(p.memory.heap_used_bytes)}`
}

function cell(row, text, className) {
  row.appendChild(el('td', className, text))
}

function renderNodes(status, now) {
  const body = $('nodes').tBodies[0]
  clear(body)
  for (const n of status.nodes) {
    const row = el('tr')
    row.dataset.node = n.id
    row.dataset.status = n.status
    cell(row, n.id, 'node-id')
    const state = el('td')
    state.appendChild(el('span', `state state-${n.status}`, n.full ? `${n.status} · disk full` : n.status))
    row.appendChild(state)
    cell(row, `${(n.ownership * 100).toFixed(1)} %`, 'num')
    cell(row, n.disk ? `${formatBytes(n.disk.free_bytes)} of ${formatBytes(n.disk.total_bytes)}` : '–', 'num')
    cell(row, n.memory ? formatBytes(n.memory.rss_bytes) : '–', 'num')
    cell(row, n.hints_held ? `${n.hints_held.versions} (${formatBytes(n.hints_held.bytes)})` : '–', 'num')
    cell(row, n.status === 'up' && n.answered ? 'now' : formatAge(n.last_seen, now))
    body.appendChild(row)
  }
}

function renderHints(pending) {
  const body = $('hints').tBodies[0]
  clear(body)
  const targets = Object.keys(pending).sort()
  for (const target of targets) {
    const h = pending[target]
    const row = el('tr')
    row.dataset.node = target
    cell(row, target, 'node-id')
    cell(row, String(h.versions), 'num')
    cell(row, formatBytes(h.bytes), 'num')
    cell(row, h.holders.join(', '))
    body.appendChild(row)
  }
  $('hints').hidden = targets.length === 0
  $('hints-empty').hidden = targets.length > 0
}

/** Per second between samples a and b (0 if the proxy restarted in between: its counters start over). */
function rate(a, b, pick) {
  const dt = (b.t - a.t) / 1000
  const d = pick(b.requests) - pick(a.requests)
  return dt > 0 && d >= 0 ? d / dt : 0
}

function renderRates(status) {
  if (!status.requests) {
    $('rate-now').textContent = 'not counted: this proxy runs without metrics'
    return
  }
  const sample = { t: Date.parse(status.at), requests: status.requests }
  const last = history[history.length - 1]
  if (last && (sample.requests.total < last.requests.total || sample.t <= last.t)) history = []
  history.push(sample)
  if (history.length > HISTORY + 1) history.shift()
  const from = history[Math.max(0, history.length - 1 - RATE_WINDOW)]
  if (history.length < 2) {
    $('rate-now').textContent = '… req/s'
  } else {
    const total = rate(from, sample, (r) => r.total)
    const errors = rate(from, sample, (r) => r.by_class['5xx'])
    $('rate-now').textContent = `${formatRate(total)} req/s`
    const methods = Object.keys(sample.requests.by_method)
      .sort()
      .map((m) => `${m} ${formatRate(rate(from, sample, (r) => r.by_method[m] ?? 0))}`)
    $('rate-detail').textContent =
      `${methods.join(' · ') || 'no requests'} · 4xx ${formatRate(rate(from, sample, (r) => r.by_class['4xx']))} · 5xx ${formatRate(errors)} (per second, last ${RATE_WINDOW} s; the page's own polls not counted)`
  }
  drawChart()
}

function drawChart() {
  const svg = $('rate-chart')
  clear(svg)
  const rates = []
  for (let i = 1; i < history.length; i++) rates.push(rate(history[i - 1], history[i], (r) => r.total))
  if (rates.length < 2) return
  const max = Math.max(1, ...rates)
  const step = 300 / (HISTORY - 1)
  const offset = 300 - (rates.length - 1) * step
  const points = rates.map((r, i) => `${(offset + i * step).toFixed(1)},${(58 - (r / max) * 54).toFixed(1)}`).join(' ')
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline')
  line.setAttribute('points', points)
  line.setAttribute('class', 'rate-line')
  svg.appendChild(line)
  const label = document.createElementNS('http://www.w3.org/2000/svg', 'text')
  label.setAttribute('x', '2')
  label.setAttribute('y', '10')
  label.setAttribute('class', 'chart-label')
  label.textContent = `max ${formatRate(max)}/s`
  svg.appendChild(label)
}

function renderEvents(list, events, now, empty) {
  clear(list)
  if (events.length === 0) {
    list.appendChild(el('li', 'muted', empty))
    return
  }
  for (const e of events) {
    const item = el('li')
    item.append(el('span', 'event-age', formatAge(e.at, now)), el('code', 'event-key', `${e.bucket}/${e.key}`), el('span', 'event-detail', e.count > 1 ? `${e.detail} ×${e.count}` : e.detail))
    list.appendChild(item)
  }
}

$('key-form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  const id = $('key-id').value.trim()
  const secret = $('key-secret').value
  if (!id || !secret) return
  sessionStorage.setItem(STORAGE_KEY, basic(id, secret))
  $('key-secret').value = ''
  $('key-error').textContent = ''
  history = []
  clearTimeout(timer)
  loop++
  poll(loop)
})

$('forget').addEventListener('click', () => askForKey('Key forgotten.'))

if (storedAuth()) poll()
else askForKey()
