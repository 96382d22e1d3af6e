/**
 * The ring as an SVG circle: one arc per range a node owns (the first node of the preference list of
 * every position in it), colored per node, with a node's state as a class on its group of arcs. The
 * arcs are drawn again only when the ring changes; a state change only moves classes.
 */
import { clear, el, formatShare, nodeColor } from './format.js'

const SVG = 'http://www.w3.org/2000/svg'
const RING = 2 ** 32
/** The outer ring: the ranges as they lie. */
const RADIUS = 100
const WIDTH = 16
/** The inner ring: each node's share in one piece, in node order, so shares compare at a glance. */
const SHARE_RADIUS = 76
const SHARE_WIDTH = 10

function point(position, r) {
  // Position 0 at the top, growing clockwise.
  const a = (position / RING) * 2 * Math.PI - Math.PI / 2
  return `${(r * Math.cos(a)).toFixed(3)} ${(r * Math.sin(a)).toFixed(3)}`
}

function arcElement(arc, r = RADIUS) {
  const sweep = (arc.end - arc.start + RING) % RING
  if (sweep === 0) {
    const c = document.createElementNS(SVG, 'circle')
    c.setAttribute('r', String(r))
    return c
  }
  const p = document.createElementNS(SVG, 'path')
  p.setAttribute('d', `M ${point(arc.start, r)} A ${r} ${r} 0 ${sweep > RING / 2 ? 1 : 0} 1 ${point(arc.end, r)}`)
  return p
}

/** The inner ring's arcs: node after node, each as long as its share. */
function shareArcs(nodes, ids) {
  const arcs = []
  let at = 0
  for (const id of ids) {
    const share = nodes.find((n) => n.id === id)?.ownership ?? 0
    if (share <= 0) continue
    const end = Math.min(RING, at + share * RING)
    arcs.push({ node: id, start: at, end: end % RING })
    at = end
  }
  return arcs
}

export class RingView {
  /** @param {SVGSVGElement} svg @param {HTMLElement} legend */
  constructor(svg, legend) {
    this.svg = svg
    this.legend = legend
    this.signature = ''
    this.groups = new Map()
    this.items = new Map()
    this.center = document.createElementNS(SVG, 'text')
    this.center.setAttribute('class', 'ring-center')
    this.center.setAttribute('text-anchor', 'middle')
    this.center.setAttribute('dominant-baseline', 'middle')
  }

  /** Draw `status.ring` and the nodes' states. */
  update(status) {
    const ids = status.nodes.map((n) => n.id).sort()
    const signature = `${ids.join(',')}|${status.ring.arcs.map((a) => `${a.node}:${a.end}`).join(',')}`
    if (signature !== this.signature) {
      this.signature = signature
      this.draw(status.ring.arcs, ids, status.nodes)
    }
    for (const n of status.nodes) {
      const state = `node-arcs state-${n.status}`
      this.groups.get(n.id)?.setAttribute('class', state)
      const item = this.items.get(n.id)
      if (item) {
        item.dataset.status = n.status
        item.querySelector('.legend-share').textContent = `${formatShare(n.ownership)} · ${n.status}`
      }
    }
    const up = status.nodes.filter((n) => n.status === 'up').length
    this.center.textContent = `${up}/${status.nodes.length} up`
  }

  draw(arcs, ids, nodes) {
    clear(this.svg)
    clear(this.legend)
    this.groups.clear()
    this.items.clear()
    const title = document.createElementNS(SVG, 'title')
    title.id = 'ring-title'
    title.textContent = "The ring: outside, each node's ranges where they lie; inside, each node's share"
    this.svg.appendChild(title)
    const track = document.createElementNS(SVG, 'circle')
    track.setAttribute('r', String(RADIUS))
    track.setAttribute('class', 'ring-track')
    this.svg.appendChild(track)
    for (const id of ids) {
      const g = document.createElementNS(SVG, 'g')
      g.dataset.node = id
      g.setAttribute('stroke', nodeColor(id, ids))
      g.setAttribute('stroke-width', String(WIDTH))
      g.setAttribute('fill', 'none')
      this.groups.set(id, g)
      this.svg.appendChild(g)
      const item = el('li')
      item.dataset.node = id
      const swatch = el('span', 'swatch')
      swatch.style.backgroundColor = nodeColor(id, ids)
      item.append(swatch, el('span', 'legend-id', id), el('span', 'legend-share', ''))
      this.items.set(id, item)
      this.legend.appendChild(item)
    }
    for (const arc of arcs) this.groups.get(arc.node)?.appendChild(arcElement(arc))
    for (const arc of shareArcs(nodes, ids)) {
      const share = arcElement(arc, SHARE_RADIUS)
      share.setAttribute('class', 'share-arc')
      share.setAttribute('stroke-width', String(SHARE_WIDTH))
      this.groups.get(arc.node)?.appendChild(share)
    }
    this.svg.appendChild(this.center)
  }
}
