// Today's curve: the day's traffic per app as stacked areas, in front of the
// typical day (low–high shaded, mid dashed). The series math is kept in pure
// functions above the uPlot wiring so it can be tested without a canvas.
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import type { AppCurve, Band, DayCurve, TypicalDay } from './api'
import { h } from './dom'
import { formatClock, humanBytes } from './format'

export type Direction = 'in' | 'out'

export const OTHER_APPS = 'Other apps'
const PALETTE_SIZE = 6

/** The CSS custom property that colors an app; shared by the chart and the app list. */
export function appColorVar(app: string, index: number): string {
  return app === OTHER_APPS ? '--app-other' : `--app-${(index % PALETTE_SIZE) + 1}`
}

/**
 * Cumulative sums, bottom layer first: row i is apps 0..i added up, so the
 * first app sits on the axis and "Other apps" (sent last) on top. Slots after
 * `lastSlot` are the future and stay empty (null) rather than drawn as zero.
 */
export function stack(layers: number[][], slots: number, lastSlot: number | null = null): (number | null)[][] {
  const end = lastSlot === null ? slots : Math.min(slots, lastSlot + 1)
  const sum = new Array<number>(slots).fill(0)
  return layers.map((values) => {
    const row = new Array<number | null>(slots).fill(null)
    for (let i = 0; i < end; i++) {
      sum[i] = (sum[i] ?? 0) + (values[i] ?? 0)
      row[i] = sum[i] ?? 0
    }
    return row
  })
}

/**
 * Puts a typical-day series (bytes per slot of `fromStep` seconds) onto the
 * curve's slots of `toStep` seconds. Bytes per slot grow with the slot, so
 * coarser slots add the finer ones up and finer slots get an even share.
 * Slots the band does not cover (a 25-hour day against a 24-hour baseline)
 * are null: no typical value is better than an invented one.
 */
export function alignBand(values: number[], fromStep: number, toStep: number, slots: number): (number | null)[] {
  const out = new Array<number | null>(slots).fill(null)
  if (fromStep <= 0 || toStep <= 0) return out
  if (toStep >= fromStep) {
    const per = Math.round(toStep / fromStep)
    for (let i = 0; i < slots; i++) {
      const first = i * per
      if (first + per > values.length) break
      let total = 0
      for (let j = first; j < first + per; j++) total += values[j] ?? 0
      out[i] = total
    }
  } else {
    const per = Math.round(fromStep / toStep)
    for (let i = 0; i < slots; i++) {
      const v = values[Math.floor(i / per)]
      if (v === undefined) break
      out[i] = v / per
    }
  }
  return out
}

export interface ChartSeries {
  xs: number[]
  apps: string[]
  /** Per app, this slot's own bytes (for the tooltip). */
  raw: number[][]
  stacked: (number | null)[][]
  band: { low: (number | null)[]; mid: (number | null)[]; high: (number | null)[] } | null
}

export function chartSeries(curve: DayCurve, typical: TypicalDay | null, dir: Direction): ChartSeries {
  const pick = (a: AppCurve): number[] => (dir === 'in' ? a.bytes_in : a.bytes_out)
  const xs = Array.from({ length: curve.slots }, (_, i) => curve.start + i * curve.step_s)
  const raw = curve.apps.map(pick)
  const src: Band | null = typical ? (dir === 'in' ? typical.bytes_in : typical.bytes_out) : null
  const band =
    src && typical
      ? {
          low: alignBand(src.low, typical.step_s, curve.step_s, curve.slots),
          mid: alignBand(src.mid, typical.step_s, curve.step_s, curve.slots),
          high: alignBand(src.high, typical.step_s, curve.step_s, curve.slots),
        }
      : null
  return { xs, apps: curve.apps.map((a) => a.app), raw, stacked: stack(raw, curve.slots, curve.now_slot), band }
}

/** Which app's layer a value at height `y` falls in, at slot `idx`; null above the stack. */
export function layerAt(stacked: (number | null)[][], idx: number, y: number): number | null {
  let below = 0
  for (let i = 0; i < stacked.length; i++) {
    const top = stacked[i]?.[idx]
    if (top === null || top === undefined) return null
    if (y <= top && top > below) return i
    below = top
  }
  return null
}

/** Local hours to label on the time axis, every `every` hours; DST days keep the labels on whole hours. */
export function hourTicks(curve: DayCurve, every: number): number[] {
  const ticks: number[] = []
  const end = curve.start + curve.slots * curve.step_s
  for (let t = curve.start; t < end; t += 3600) {
    const hour = Number(formatClock(t, curve.timezone).slice(0, 2))
    if (hour % every === 0) ticks.push(t)
  }
  return ticks
}

/** The value of a CSS custom property on the root, for canvas drawing. */
export function cssColor(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888'
}

/** "#5b8db8" or "rgb(91 141 184)" plus an alpha, for canvas fills. */
function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{6})$/i.exec(color)
  if (hex) {
    const n = parseInt(hex[1] ?? '0', 16)
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`
  }
  return color
}

export class CurveChart {
  private plot: uPlot | null = null
  private shape = ''
  private series: ChartSeries | null = null
  private curve: DayCurve | null = null
  private dir: Direction = 'in'
  private readonly plotEl: HTMLDivElement
  private readonly tip: HTMLDivElement
  private readonly empty: HTMLParagraphElement
  private readonly resize: ResizeObserver

  constructor(private readonly root: HTMLElement) {
    this.plotEl = h('div', { class: 'plot' })
    this.tip = h('div', { class: 'tip', hidden: true, attrs: { role: 'tooltip' } })
    this.empty = h('p', { class: 'empty muted', hidden: true }, 'No traffic recorded for this day.')
    root.append(this.plotEl, this.tip, this.empty)
    // Follow the window: the tray window can be resized, and the first layout
    // may come after the first data.
    this.resize = new ResizeObserver(() => this.fit())
    this.resize.observe(root)
  }

  /** Draws a day. The chart is rebuilt only when its series change, not on every refresh. */
  update(curve: DayCurve, typical: TypicalDay | null, dir: Direction): void {
    const s = chartSeries(curve, typical, dir)
    const shape = JSON.stringify([s.apps, !!s.band, dir, curve.timezone, curve.step_s, curve.slots, curve.start])
    this.series = s
    this.curve = curve
    this.dir = dir
    this.empty.textContent = 'No traffic recorded for this day.'
    this.empty.hidden = s.apps.length > 0
    if (this.plot && shape === this.shape) this.plot.setData(this.data(s))
    else this.build()
    this.shape = shape
  }

  /** Shows a message instead of a chart, for a day that could not be loaded. */
  clear(message: string): void {
    this.plot?.destroy()
    this.plot = null
    this.series = null
    this.curve = null
    this.shape = ''
    this.tip.hidden = true
    this.empty.textContent = message
    this.empty.hidden = false
  }

  /** Colors come from CSS custom properties, so a light/dark switch needs a rebuild. */
  restyle(): void {
    if (this.curve) this.build()
  }

  private data(s: ChartSeries): uPlot.AlignedData {
    const none = s.xs.map(() => null)
    return [s.xs, s.band?.low ?? none, s.band?.high ?? none, s.band?.mid ?? none, ...s.stacked]
  }

  private build(): void {
    if (!this.series || !this.curve) return
    this.plot?.destroy()
    this.plot = new uPlot(this.options(this.series, this.curve, this.dir), this.data(this.series), this.plotEl)
  }

  private size(): { width: number; height: number } {
    const width = Math.max(200, Math.floor(this.root.clientWidth))
    return { width, height: Math.round(Math.min(240, Math.max(140, width * 0.45))) }
  }

  private fit(): void {
    if (!this.plot) return
    const { width, height } = this.size()
    if (width !== this.plot.width || height !== this.plot.height) this.plot.setSize({ width, height })
  }

  private options(s: ChartSeries, curve: DayCurve, dir: Direction): uPlot.Options {
    const accent = cssColor(dir === 'in' ? '--in' : '--out')
    const text = cssColor('--muted')
    const grid = cssColor('--grid')
    const hidden = { show: true, stroke: 'transparent', width: 0, points: { show: false } }
    const font = `11px ${getComputedStyle(document.body).fontFamily}`
    const appSeries: uPlot.Series[] = s.apps.map((app, i) => {
      const color = cssColor(appColorVar(app, i))
      return { label: app, stroke: color, width: 1, fill: withAlpha(color, 0.8), points: { show: false } }
    })
    // Series 1..3 are the band (low, high, mid); apps follow from 4.
    const bands: uPlot.Band[] = [{ series: [2, 1], fill: withAlpha(accent, 0.16) }]
    for (let i = 1; i < s.apps.length; i++) bands.push({ series: [4 + i, 3 + i] })
    const axis = { stroke: text, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 3 } }
    return {
      ...this.size(),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), curve.timezone),
      legend: { show: false },
      cursor: { y: false, points: { show: false }, drag: { x: false, y: false, setScale: false } },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      padding: [8, 8, 0, 0],
      scales: {
        x: { time: true, range: [curve.start, curve.start + curve.slots * curve.step_s] },
        // The stack starts at zero, not at the smallest app's minimum.
        y: { range: (_u, _min, max) => [0, uPlot.rangeNum(0, Math.max(max, 1), 0.1, true)[1]] },
      },
      series: [
        {},
        { label: 'Typical low', ...hidden },
        { label: 'Typical high', ...hidden },
        { label: 'Typical', stroke: accent, width: 1.25, dash: [4, 4], points: { show: false } },
        ...appSeries,
      ],
      bands,
      axes: [
        {
          ...axis,
          size: 26,
          splits: (u) => hourTicks(curve, u.width < 420 ? 6 : 3),
          values: (_u, ticks) => ticks.map((t) => formatClock(t, curve.timezone)),
        },
        { ...axis, size: 52, values: (_u, ticks) => ticks.map((t) => humanBytes(t)) },
      ],
      hooks: { setCursor: [(u) => this.hover(u)] },
    }
  }

  private hover(u: uPlot): void {
    const s = this.series
    const idx = u.cursor.idx
    const top = u.cursor.top ?? -1
    if (!s || !this.curve || idx === null || idx === undefined || top < 0) {
      this.tip.hidden = true
      return
    }
    const y = u.posToVal(top, 'y')
    const layer = layerAt(s.stacked, idx, y)
    const total = s.stacked[s.stacked.length - 1]?.[idx]
    const typical = s.band?.mid[idx]
    const typically = typical === null || typical === undefined ? '' : `typically ${humanBytes(typical)}`
    const lines: string[] = []
    if (total === null || total === undefined) {
      lines.push('No data yet', typically)
    } else if (layer === null) {
      lines.push(`All apps ${humanBytes(total)}`, typically)
    } else {
      // The typical day is for all apps together, so it goes with the total.
      lines.push(`${s.apps[layer]} ${humanBytes(s.raw[layer]?.[idx] ?? 0)}`)
      lines.push([`All apps ${humanBytes(total)}`, typically].filter(Boolean).join(', '))
    }
    this.tip.replaceChildren(
      h('span', { class: 'tip-time' }, formatClock(s.xs[idx] ?? 0, this.curve.timezone)),
      h('strong', { class: 'tip-value' }, lines[0] ?? ''),
      lines[1] ? h('span', { class: 'tip-typical' }, lines[1]) : '',
    )
    this.tip.hidden = false
    // Keep the tooltip inside the small window: above the pointer, on
    // whichever side of it has room.
    const x = (u.cursor.left ?? 0) + u.over.offsetLeft
    const width = this.tip.offsetWidth
    const room = this.root.clientWidth
    const left = x + 10 + width <= room ? x + 10 : Math.max(0, Math.min(x - 10 - width, room - width))
    this.tip.style.left = `${left}px`
    this.tip.style.top = `${Math.max(0, top + u.over.offsetTop - this.tip.offsetHeight - 8)}px`
  }

  destroy(): void {
    this.resize.disconnect()
    this.plot?.destroy()
    this.plot = null
  }
}
