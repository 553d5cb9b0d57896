// Calendar-day arithmetic on "YYYY-MM-DD" strings. Done in UTC on purpose: a
// calendar day is a date, not an instant, so DST must not move it.
import type { Day } from './api'

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/

/** True for a real calendar date written as YYYY-MM-DD (no 2026-02-30). */
export function isDay(s: string): s is Day {
  const m = DAY_RE.exec(s)
  if (!m) return false
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const date = new Date(Date.UTC(y, mo - 1, d))
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d
}

function toDay(date: Date): Day {
  const y = String(date.getUTCFullYear()).padStart(4, '0')
  const m = String(date.getUTCMonth() + 1).padStart(2, '0')
  const d = String(date.getUTCDate()).padStart(2, '0')
  return `${y}-${m}-${d}`
}

/** The day `n` days after (or before, for negative n) `day`. */
export function addDays(day: Day, n: number): Day {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number]
  return toDay(new Date(Date.UTC(y, m - 1, d + n)))
}

/** Today's date on this machine's clock, in its local zone. */
export function localToday(now: Date = new Date()): Day {
  return toDay(new Date(Date.UTC(now.getFullYear(), now.getMonth(), now.getDate())))
}

/** The day asked for by `?day=YYYY-MM-DD`, if it is a valid one. */
export function dayFromQuery(search: string): Day | null {
  const day = new URLSearchParams(search).get('day')
  return day !== null && isDay(day) ? day : null
}

/**
 * Where the day arrows lead. `null` stands for "today", which follows the
 * clock, so that a window left open over midnight moves on by itself.
 */
export function stepDay(current: Day | null, delta: number, today: Day): Day | null {
  const next = addDays(current ?? today, delta)
  return next >= today ? null : next
}
