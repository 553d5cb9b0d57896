// The History view's chart: one stacked bar per day or month, the top apps
// at the bottom and "Other apps" on top, in the same colors as the table.
// A bar opens its period: a day in the Today view, a month by day. The bars
// are reachable from the keyboard as well: arrows choose, Enter opens.
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import type { UsageBy } from './api'
import { cssColor, layerAt, stack } from './chart'
import { h } from './dom'
import { humanBytes } from './format'
import { axisLabel, labelEvery, labelledBars, periodLabel, type Period } from './range'
import { periodTotals, type Layer } from './usage'

export interface BarsModel {
  periods: Period[]
  by: UsageBy
  /** Bottom first; each layer's own bytes per period. */
  layers: Layer[]
  /** Said over the chart when the range had no traffic at all. */
  emptyText: string
}

export interface BarSeries {
  xs: number[]
  /** Cumulative sums, bottom layer first (as `stack` makes them). */
  stacked: number[][]
  totals: number[]
}

export function barSeries(model: BarsModel): BarSeries {
  const n = model.periods.length
  const stacked = stack(
    model.layers.map((l) => l.values),
    n,
  ).map((row) => row.map((v) => v ?? 0))
  return { xs: model.periods.map((_, i) => i), stacked, totals: periodTotals(model.layers, n) }
}

/** The tooltip's lines for the bar at `idx`, with the pointer on `layer` (or above the stack). */
export function barTip(model: BarsModel, s: BarSeries, idx: number, layer: number | null): string[] {
  const period = model.periods[idx] ?? ''
  const total = s.totals[idx] ?? 0
  const hint = model.by === 'month' ? 'Click for its days' : 'Click to open the day'
  if (total <= 0) return [periodLabel(period, model.by), 'No traffic', hint]
  const all = model.layers.length > 1 ? `All apps ${humanBytes(total)}` : ''
  const l = layer === null ? undefined : model.layers[layer]
  const head = l ? `${l.app} ${humanBytes(l.values[idx] ?? 0)}` : all || `${model.layers[0]?.app ?? ''} ${humanBytes(total)}`
  return [periodLabel(period, model.by), head, l ? all : '', hint].filter(Boolean)
}

export class UsageBars {
  private plot: uPlot | null = null
  private shape = ''
  private model: BarsModel | null = null
  private series: BarSeries | null = null
  /** The bar chosen with the keyboard, if any. */
  private focused: number | null = null
  private readonly plotEl: HTMLDivElement
  private readonly tip: HTMLDivElement
  private readonly hi: HTMLDivElement
  private readonly empty: HTMLParagraphElement
  private readonly live: HTMLSpanElement
  private readonly resize: ResizeObserver

  constructor(
    private readonly root: HTMLElement,
    private readonly open: (period: Period) => void,
  ) {
    this.plotEl = h('div', { class: 'plot' })
    this.hi = h('div', { class: 'bar-hi', hidden: true, attrs: { 'aria-hidden': 'true' } })
    this.tip = h('div', { class: 'tip', hidden: true, attrs: { role: 'tooltip' } })
    this.empty = h('p', { class: 'empty muted', hidden: true })
    this.live = h('span', { class: 'sr-only', attrs: { 'aria-live': 'polite' } })
    root.append(this.plotEl, this.hi, this.tip, this.empty, this.live)
    root.tabIndex = 0
    root.setAttribute('role', 'group')
    root.setAttribute('aria-roledescription', 'bar chart')
    root.addEventListener('keydown', (e) => this.key(e))
    root.addEventListener('blur', () => {
      this.focused = null
      this.hover(null)
    })
    this.resize = new ResizeObserver(() => this.fit())
    this.resize.observe(root)
  }

  /** Draws the bars; the chart is rebuilt only when its shape changes. */
  update(model: BarsModel): void {
    const s = barSeries(model)
    const colors = model.layers.map((l) => cssColor(l.color))
    const shape = JSON.stringify([model.periods, model.by, model.layers.map((l) => l.app), colors])
    this.model = model
    this.series = s
    const empty = s.totals.every((t) => t <= 0)
    this.empty.textContent = model.emptyText
    this.empty.hidden = !empty
    const what = model.by === 'month' ? 'month' : 'day'
    this.root.setAttribute('aria-label', `Traffic per ${what}: arrow keys choose a ${what}, Enter opens it`)
    if (this.focused !== null && this.focused >= model.periods.length) this.focused = null
    if (this.plot && shape === this.shape) this.plot.setData(this.data(s))
    else this.build()
    this.shape = shape
  }

  /** Shows a message instead of bars: loading, or a range that could not be loaded. */
  clear(message: string): void {
    this.plot?.destroy()
    this.plot = null
    this.model = null
    this.series = null
    this.shape = ''
    this.focused = null
    this.tip.hidden = true
    this.hi.hidden = true
    this.empty.textContent = message
    this.empty.hidden = false
  }

  /** Colors come from CSS custom properties, so a light/dark switch needs a rebuild. */
  restyle(): void {
    if (this.model) this.update(this.model)
  }

  /** uPlot draws series in order: the whole stack first, each lower layer over it. */
  private data(s: BarSeries): uPlot.AlignedData {
    return [s.xs, ...[...s.stacked].reverse()]
  }

  private build(): void {
    if (!this.model || !this.series) return
    this.plot?.destroy()
    this.plot = new uPlot(this.options(this.model), this.data(this.series), this.plotEl)
    this.plot.over.addEventListener('click', () => {
      const idx = this.plot?.cursor.idx
      const period = idx === null || idx === undefined ? undefined : this.model?.periods[idx]
      if (period !== undefined) this.open(period)
    })
    this.plot.over.addEventListener('mouseleave', () => this.hover(null))
  }

  private size(): { width: number; height: number } {
    const width = Math.max(200, Math.floor(this.root.clientWidth))
    return { width, height: Math.round(Math.min(220, Math.max(140, width * 0.42))) }
  }

  private fit(): void {
    if (!this.plot) return
    const { width, height } = this.size()
    if (width !== this.plot.width || height !== this.plot.height) this.plot.setSize({ width, height })
  }

  private options(model: BarsModel): uPlot.Options {
    const text = cssColor('--muted')
    const grid = cssColor('--grid')
    const font = `11px ${getComputedStyle(document.body).fontFamily}`
    const n = model.periods.length
    const bars = uPlot.paths.bars?.({ size: [0.72, 48], gap: 1 })
    const layers = [...model.layers].reverse()
    const series: uPlot.Series[] = layers.map((l) => {
      const color = cssColor(l.color)
      return { label: l.app, stroke: color, fill: color, width: 0, paths: bars, points: { show: false } }
    })
    const axis = { stroke: text, font, grid: { stroke: grid, width: 1 }, ticks: { show: false } }
    const every = (u: uPlot): number => {
      const m = this.model
      if (!m || !m.periods.length) return 1
      return labelEvery(m.by, u.bbox.width / uPlot.pxRatio / m.periods.length)
    }
    return {
      ...this.size(),
      legend: { show: false },
      cursor: { x: false, y: false, points: { show: false }, drag: { x: false, y: false, setScale: false } },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      // Room on the right for the newest bar's label, centred under it.
      padding: [8, 16, 0, 0],
      scales: {
        x: { time: false, range: [-0.5, Math.max(0, n - 0.5)] },
        y: { range: (_u, _min, max) => [0, uPlot.rangeNum(0, Math.max(max, 1), 0.1, true)[1]] },
      },
      series: [{}, ...series],
      axes: [
        {
          ...axis,
          grid: { show: false },
          // Two lines for "Wed" over "8".
          size: (_u, values) => (values?.some((v) => v.includes('\n')) ? 36 : 24),
          splits: (u) => labelledBars(this.model?.periods.length ?? 0, every(u)),
          values: (u, ticks) => {
            const m = this.model
            const everyBar = every(u) === 1
            return ticks.map((i) => (m ? axisLabel(m.periods[i] ?? '', m.by, everyBar) : ''))
          },
        },
        {
          ...axis,
          size: 52,
          values: (_u, ticks) =>
            this.series?.totals.some((t) => t > 0) ? ticks.map((t) => humanBytes(t)) : ticks.map(() => ''),
        },
      ],
      hooks: { setCursor: [(u) => this.hover(u)] },
    }
  }

  private hover(u: uPlot | null): void {
    const s = this.series
    const m = this.model
    const idx = u?.cursor.idx
    const top = u?.cursor.top ?? -1
    if (!u || !s || !m || idx === null || idx === undefined || top < 0) {
      this.tip.hidden = true
      this.hi.hidden = true
      return
    }
    const layer = layerAt(s.stacked, idx, u.posToVal(top, 'y'))
    const [when, head, ...rest] = barTip(m, s, idx, layer)
    this.tip.replaceChildren(
      h('span', { class: 'tip-time' }, when ?? ''),
      h('strong', { class: 'tip-value' }, head ?? ''),
      ...rest.map((line, i) => h('span', { class: i === rest.length - 1 ? 'tip-hint' : 'tip-typical' }, line)),
    )
    this.tip.hidden = false
    // The bar's column, lightly marked, so that it is clear what a click opens.
    const x0 = u.valToPos(idx - 0.5, 'x')
    const x1 = u.valToPos(idx + 0.5, 'x')
    this.hi.style.left = `${u.over.offsetLeft + x0}px`
    this.hi.style.width = `${x1 - x0}px`
    this.hi.style.top = `${u.over.offsetTop}px`
    this.hi.style.height = `${u.over.clientHeight}px`
    this.hi.hidden = false
    // Above the pointer, on whichever side has room, inside the small window.
    const x = (u.cursor.left ?? 0) + u.over.offsetLeft
    const width = this.tip.offsetWidth
    const room = this.root.clientWidth
    const left = x + 10 + width <= room ? x + 10 : Math.max(0, Math.min(x - 10 - width, room - width))
    this.tip.style.left = `${left}px`
    this.tip.style.top = `${Math.max(0, top + u.over.offsetTop - this.tip.offsetHeight - 8)}px`
  }

  private key(e: KeyboardEvent): void {
    const u = this.plot
    const m = this.model
    if (!u || !m || !m.periods.length || e.altKey || e.ctrlKey || e.metaKey) return
    const last = m.periods.length - 1
    const at = this.focused ?? last
    let next: number | null = null
    if (e.key === 'ArrowLeft') next = this.focused === null ? last : Math.max(0, at - 1)
    else if (e.key === 'ArrowRight') next = this.focused === null ? last : Math.min(last, at + 1)
    else if (e.key === 'Home') next = 0
    else if (e.key === 'End') next = last
    else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault()
      const period = m.periods[at]
      if (period !== undefined) this.open(period)
      return
    } else return
    e.preventDefault()
    this.focused = next
    // Point at the middle of the bar, or near the axis for an empty one.
    const total = this.series?.totals[next] ?? 0
    u.setCursor({ left: u.valToPos(next, 'x'), top: u.valToPos(total / 2, 'y') })
    this.live.textContent = [...this.tip.children]
      .slice(0, -1)
      .map((c) => c.textContent)
      .join(', ')
  }

  destroy(): void {
    this.resize.disconnect()
    this.plot?.destroy()
    this.plot = null
  }
}
