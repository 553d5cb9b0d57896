// The History view's numbers: usage_history rows added up per app (the
// table, with each app's share of the range), and per period as layers of
// stacked bars, the top apps in their colors and the rest as "Other apps".
// Pure functions, tested without a DOM.
import type { UsageRow } from './api'
import { appColorVar, OTHER_APPS, type Direction } from './chart'
import type { Period } from './range'

/** Apps drawn as their own layer; the rest are summed as "Other apps". One per palette color. */
export const STACKED_APPS = 6
const PALETTE = Array.from({ length: STACKED_APPS }, (_, i) => `--app-${i + 1}`)

export interface AppTotal {
  app: string
  bytes_in: number
  bytes_out: number
  /** In and out together. */
  total: number
  /** Of the range's total, in and out together: 0–1. */
  share: number
}

export interface Totals {
  /** Most traffic first; equal totals by name. */
  apps: AppTotal[]
  bytes_in: number
  bytes_out: number
  total: number
}

const bytes = (n: number): number => (Number.isFinite(n) && n > 0 ? n : 0)

/** Each app's traffic over the whole range, and its share of everything. */
export function appTotals(rows: UsageRow[]): Totals {
  const by = new Map<string, { bytes_in: number; bytes_out: number }>()
  for (const r of rows) {
    const t = by.get(r.app) ?? { bytes_in: 0, bytes_out: 0 }
    t.bytes_in += bytes(r.bytes_in)
    t.bytes_out += bytes(r.bytes_out)
    by.set(r.app, t)
  }
  let bytesIn = 0
  let bytesOut = 0
  for (const t of by.values()) {
    bytesIn += t.bytes_in
    bytesOut += t.bytes_out
  }
  const total = bytesIn + bytesOut
  const apps = [...by].map(([app, t]) => {
    const sum = t.bytes_in + t.bytes_out
    return { app, ...t, total: sum, share: total > 0 ? sum / total : 0 }
  })
  apps.sort((a, b) => b.total - a.total || (a.app < b.app ? -1 : a.app > b.app ? 1 : 0))
  return { apps, bytes_in: bytesIn, bytes_out: bytesOut, total }
}

/**
 * "43 %", "4.4 %", "0.4 %", "<0.1 %": whole percent from 10 up, one decimal
 * below, and never a bare 0 for an app that had some traffic.
 */
export function formatShare(share: number): string {
  const pct = share * 100
  if (!(pct > 0)) return '0 %'
  if (pct < 0.05) return '<0.1 %'
  if (pct >= 9.95) return `${Math.round(pct)} %`
  return `${pct.toFixed(1)} %`
}

/**
 * Colors for the apps drawn on their own, most traffic first. An app the Today
 * view shows keeps its color there (`today` is that view's app order, "Other
 * apps" included); the others take the palette colors left free, in order,
 * those the Today view uses for other apps last.
 */
export function assignColors(ranked: string[], today: string[]): Map<string, string> {
  const known = new Map<string, string>()
  today.forEach((app, i) => {
    if (app !== OTHER_APPS && !known.has(app)) known.set(app, appColorVar(app, i))
  })
  const colors = new Map<string, string>()
  const taken = new Set<string>()
  for (const app of ranked) {
    const color = known.get(app)
    if (color && !taken.has(color)) {
      colors.set(app, color)
      taken.add(color)
    }
  }
  // Colors the Today view gives apps not drawn here come last: a color should
  // not name two apps while there is another left.
  const todays = new Set(known.values())
  const free = [
    ...PALETTE.filter((c) => !taken.has(c) && !todays.has(c)),
    ...PALETTE.filter((c) => !taken.has(c) && todays.has(c)),
  ]
  for (const app of ranked) if (!colors.has(app)) colors.set(app, free.shift() ?? '--app-other')
  return colors
}

export interface Layer {
  app: string
  /** CSS custom property holding its color. */
  color: string
  /** This layer's own bytes per period, in the periods' order. */
  values: number[]
}

/**
 * One layer per app in `apps` (bottom first) and, on top, "Other apps" for
 * every other app's bytes, if the rows have any other app. Periods without
 * rows are zero; rows for periods outside `periods` are ignored.
 */
export function periodLayers(
  rows: UsageRow[],
  periods: Period[],
  dir: Direction,
  apps: string[],
  colors: Map<string, string>,
): Layer[] {
  const at = new Map(periods.map((p, i) => [p, i]))
  const own = new Map(apps.map((app) => [app, new Array<number>(periods.length).fill(0)]))
  const other = new Array<number>(periods.length).fill(0)
  let hasOther = false
  for (const r of rows) {
    const i = at.get(r.period)
    if (i === undefined) continue
    const value = bytes(dir === 'in' ? r.bytes_in : r.bytes_out)
    const layer = own.get(r.app)
    if (layer) {
      layer[i] = (layer[i] ?? 0) + value
    } else {
      hasOther = true
      other[i] = (other[i] ?? 0) + value
    }
  }
  const layers: Layer[] = apps.map((app) => ({
    app,
    color: colors.get(app) ?? '--app-other',
    values: own.get(app) ?? [],
  }))
  if (hasOther) layers.push({ app: OTHER_APPS, color: '--app-other', values: other })
  return layers
}

/** Bytes per period, all layers together. */
export function periodTotals(layers: Layer[], count: number): number[] {
  const out = new Array<number>(count).fill(0)
  for (const l of layers) for (let i = 0; i < count; i++) out[i] = (out[i] ?? 0) + (l.values[i] ?? 0)
  return out
}
