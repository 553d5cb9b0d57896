// The History view's ranges: which days or months a range covers, every
// period in it (empty ones included), how the address names it and how its
// periods are labelled. Calendar arithmetic on strings, as in day.ts: months
// and days are dates, not instants, so no zone or DST may move them.
import type { Day, UsageBy } from './api'
import { addDays } from './day'
import { formatDay } from './format'

/** "YYYY-MM", a calendar month. */
export type Month = string
/** A day ("YYYY-MM-DD") or a month ("YYYY-MM"), as `usage_history` names periods. */
export type Period = string

export type RangeKey = '7d' | '30d' | '12m'
/** The last 7 or 30 days, the last 12 months, or one month by day. */
export type Range = { kind: RangeKey } | { kind: 'month'; month: Month }

export const DEFAULT_RANGE: Range = { kind: '7d' }

export const RANGE_LABELS: Record<RangeKey, string> = {
  '7d': '7 days',
  '30d': '30 days',
  '12m': '12 months',
}

/** What `usage_history` is asked for. */
export interface Span {
  from: Day
  to: Day
  by: UsageBy
}

const MONTH_RE = /^(\d{4})-(\d{2})$/
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const
const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const

/** True for "YYYY-MM" with a month 01–12. */
export function isMonth(s: string): s is Month {
  const m = MONTH_RE.exec(s)
  return m !== null && Number(m[2]) >= 1 && Number(m[2]) <= 12
}

export function monthOf(day: Day): Month {
  return day.slice(0, 7)
}

function parts(month: Month): [number, number] {
  const [y, m] = month.split('-').map(Number) as [number, number]
  return [y, m]
}

/** The month `n` months after (or before) `month`. */
export function addMonths(month: Month, n: number): Month {
  const [y, m] = parts(month)
  const index = y * 12 + (m - 1) + n
  const year = Math.floor(index / 12)
  return `${String(year).padStart(4, '0')}-${String(index - year * 12 + 1).padStart(2, '0')}`
}

/** The month's last day: 28, 29, 30 or 31. */
export function lastDayOf(month: Month): Day {
  const [y, m] = parts(month)
  // Day 0 of the next month is this month's last.
  const d = new Date(Date.UTC(y, m, 0)).getUTCDate()
  return `${month}-${String(d).padStart(2, '0')}`
}

const earlier = (a: string, b: string): string => (a <= b ? a : b)

/**
 * The days (or months) a range covers, ending today. The months range starts
 * on the first of the month eleven months back, so that it has twelve whole
 * months' rows but the current one. A month by day ends on its last day, or
 * today for the current month; a month after today is the current month.
 */
export function spanOf(range: Range, today: Day): Span {
  switch (range.kind) {
    case '7d':
      return { from: addDays(today, -6), to: today, by: 'day' }
    case '30d':
      return { from: addDays(today, -29), to: today, by: 'day' }
    case '12m':
      return { from: `${addMonths(monthOf(today), -11)}-01`, to: today, by: 'month' }
    case 'month': {
      const month = earlier(range.month, monthOf(today))
      return { from: `${month}-01`, to: earlier(lastDayOf(month), today), by: 'day' }
    }
  }
}

/** Longer than any range the view asks for: a broken span cannot run away. */
const MAX_PERIODS = 400

/**
 * Every period from `from` to `to`, both included, in order: the chart's
 * axis. A period without rows had no traffic and stays on the axis, empty.
 */
export function periodsOf(span: Span): Period[] {
  const out: Period[] = []
  if (span.by === 'month') {
    const last = monthOf(span.to)
    for (let m = monthOf(span.from); m <= last && out.length < MAX_PERIODS; m = addMonths(m, 1)) out.push(m)
  } else {
    for (let d = span.from; d <= span.to && out.length < MAX_PERIODS; d = addDays(d, 1)) out.push(d)
  }
  return out
}

/** The range named by `?range=`: 7d, 30d, 12m or a month YYYY-MM; the default otherwise. */
export function rangeFromParam(param: string | null): Range {
  if (param === '7d' || param === '30d' || param === '12m') return { kind: param }
  if (param !== null && isMonth(param)) return { kind: 'month', month: param }
  return DEFAULT_RANGE
}

export function rangeParam(range: Range): string {
  return range.kind === 'month' ? range.month : range.kind
}

/** "Jul", or "July 2026" when `long`. */
export function formatMonth(month: Month, long = false): string {
  const [y, m] = parts(month)
  return long ? `${MONTH_NAMES[m - 1]} ${y}` : (MONTHS[m - 1] ?? month)
}

/** "14 Jul", without the weekday. */
export function formatDate(day: Day): string {
  const [, m, d] = day.split('-').map(Number) as [number, number, number]
  return `${d} ${MONTHS[m - 1]}`
}

/** A period for the tooltip: "Tue 14 Jul" or "July 2026". */
export function periodLabel(period: Period, by: UsageBy): string {
  return by === 'month' ? formatMonth(period, true) : formatDay(period)
}

/**
 * A period under its bar. Days are "Tue" over "14" when every bar is
 * labelled, else "14 Jul"; months are "Jul".
 */
export function axisLabel(period: Period, by: UsageBy, everyBar: boolean): string {
  if (by === 'month') return formatMonth(period)
  return everyBar ? formatDay(period).split(' ').slice(0, 2).join('\n') : formatDate(period)
}

/**
 * The span as a heading: "8–14 Jul 2026", "15 Jun – 14 Jul 2026",
 * "20 Dec 2025 – 18 Jan 2026"; by month "Aug 2025 – Jul 2026", or "June 2026"
 * for one month.
 */
export function spanLabel(span: Span): string {
  const [fy, fm] = parts(monthOf(span.from))
  const [ty, tm] = parts(monthOf(span.to))
  if (span.by === 'month') {
    if (fy === ty && fm === tm) return formatMonth(monthOf(span.from), true)
    return `${MONTHS[fm - 1]} ${fy} – ${MONTHS[tm - 1]} ${ty}`
  }
  if (span.from === span.to) return `${formatDate(span.to)} ${ty}`
  if (fy === ty && fm === tm) return `${Number(span.from.slice(8))}–${formatDate(span.to)} ${ty}`
  if (fy === ty) return `${formatDate(span.from)} – ${formatDate(span.to)} ${ty}`
  return `${formatDate(span.from)} ${fy} – ${formatDate(span.to)} ${ty}`
}

/**
 * Which bars get a label, as indices: every `every`-th one counting back
 * from the last, so the newest period (today, this month) is always named.
 */
export function labelledBars(count: number, every: number): number[] {
  const step = Math.max(1, Math.floor(every))
  const out: number[] = []
  for (let i = count - 1; i >= 0; i -= step) out.unshift(i)
  return out
}

/** Room a label needs, in CSS pixels: "Wed" over "8"; "8 Jul"; "Aug". */
const LABEL_PX = { weekday: 28, date: 44, month: 30 } as const

/**
 * Every how many bars a label goes, given the room per bar in CSS pixels: on
 * every bar when it fits, else every other day, weekly, or every 2, 3 or 6
 * months.
 */
export function labelEvery(by: UsageBy, pxPerBar: number): number {
  if (by === 'month') {
    for (const s of [1, 2, 3, 6]) if (s * pxPerBar >= LABEL_PX.month) return s
    return 12
  }
  if (pxPerBar >= LABEL_PX.weekday) return 1
  for (const s of [2, 7, 14]) if (s * pxPerBar >= LABEL_PX.date) return s
  return 28
}
