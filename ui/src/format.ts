// Numbers, days and times for people. Byte counts are written exactly as the
// `nbi` CLI writes them (crates/nbi-core/src/human.rs), so a verdict summary
// from the backend and a line formatted here never disagree.
import type { Day, Explanation } from './api'

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'] as const

/** Decimal units, three significant digits: 0 B, 999 B, 1.2 kB, 84 MB, 2.1 GB, 1.0 TB. */
export function humanBytes(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '0 B'
  let v = n
  let unit = 0
  // 999.5 rather than 1000: 999 600 B would otherwise print as "1000 kB".
  while (v >= 999.5 && unit < UNITS.length - 1) {
    v /= 1000
    unit += 1
  }
  if (unit === 0) return `${Math.round(n)} B`
  return v < 9.95 ? `${v.toFixed(1)} ${UNITS[unit]}` : `${v.toFixed(0)} ${UNITS[unit]}`
}

const pad2 = (n: number): string => String(n).padStart(2, '0')

/**
 * "Transmission 03:00–04:00: 30 GB, typically 595 kB", and for an upload
 * "Google Chrome 20:00–21:00: uploaded 2.0 GB, typically 33 MB"; to_hour is
 * exclusive, so 24 prints as 24:00.
 */
export function explanationLine(e: Explanation): string {
  const hours = `${pad2(e.from_hour)}:00–${pad2(e.to_hour)}:00`
  const top = e.destinations?.[0]
  if (e.new === 'app') return `new app ${e.app} ${hours}: ${humanBytes(e.bytes)}`
  if (e.new === 'destination' && top) {
    return `new destination for ${e.app} ${hours}: ${humanBytes(e.bytes)} uploaded to ${top.destination}`
  }
  const upload = e.direction === 'upload'
  const what = upload ? `uploaded ${humanBytes(e.bytes)}` : humanBytes(e.bytes)
  // Where most of it went, in the run's direction: "to" what it sent to, "from" what it fetched.
  const where = top ? ` ${upload || top.bytes_out > top.bytes_in ? 'to' : 'from'} ${top.destination}` : ''
  return `${e.app} ${hours}: ${what}${where}, typically ${humanBytes(e.typical_bytes)}`
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const

/** "Tue 14 Jul", the way the backend's summaries name days. The year is added when asked for. */
export function formatDay(day: Day, withYear = false): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number]
  // Noon UTC: the weekday of a calendar date does not depend on any zone.
  const date = new Date(Date.UTC(y, m - 1, d, 12))
  const text = `${WEEKDAYS[date.getUTCDay()]} ${d} ${MONTHS[m - 1]}`
  return withYear ? `${text} ${y}` : text
}

// Formatters are costly to build and the chart asks for one per axis label.
const clocks = new Map<string, Intl.DateTimeFormat>()

function clock(timeZone: string | undefined): Intl.DateTimeFormat {
  const key = timeZone ?? ''
  let format = clocks.get(key)
  if (!format) {
    const options: Intl.DateTimeFormatOptions = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }
    try {
      format = new Intl.DateTimeFormat('en-GB', { ...options, timeZone })
    } catch {
      // A zone this webview's ICU does not know: the machine's own zone is the best guess.
      format = new Intl.DateTimeFormat('en-GB', options)
    }
    clocks.set(key, format)
  }
  return format
}

/** "14:05" for a unix time, in the given IANA zone (the day's zone), or the browser's. */
export function formatClock(unixSeconds: number, timeZone?: string): string {
  return clock(timeZone).format(new Date(unixSeconds * 1000))
}

/** "1 hour", "3 hours". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}
