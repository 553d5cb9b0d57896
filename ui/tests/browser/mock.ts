// A stand-in for the tray app's IPC, injected into the page before the app
// starts. It answers every command from fixtures, records each call, and lets
// a test change the answers, make a command fail, or emit backend events.
import { emit } from '@tauri-apps/api/event'
import { mockIPC } from '@tauri-apps/api/mocks'
import type {
  AppCurve,
  Band,
  DayCurve,
  DestinationRow,
  Destinations,
  ExportResult,
  HistoryEntry,
  Learning,
  NetworkInUse,
  NetworkRow,
  Networks,
  Plan,
  SourceState,
  Status,
  TypicalDay,
  UsageHistory,
  UsageRow,
  Verdict,
  VerdictStatus,
} from '../../src/api'

export type VerdictKind = VerdictStatus | 'none'

export interface Scenario {
  verdict?: VerdictKind
  state?: SourceState
  /** command → error message it rejects with */
  reject?: Record<string, string>
  /** command → milliseconds before it answers */
  delay?: Record<string, number>
  /** Leave out the event plugin, as in a webview without it. */
  noEvents?: boolean
  /** The data plan in status(); none when left out. Alone, it is also the only one of `plans`. */
  plan?: Plan
  /** Every plan in status(), in configuration order; `plan` is then the one for the network in use. */
  plans?: Plan[]
  /** The network in use in status(); Home when left out, none when null. */
  network?: NetworkInUse | null
  /** 'cancel': export_range answers null, as when the save dialog is cancelled. */
  exportAnswer?: 'cancel'
  /** 'empty': usage_history (and networks) have no rows at all, as before the first recorded day. */
  usage?: 'empty'
}

export interface Call {
  cmd: string
  args: Record<string, unknown>
}

export interface MockControl {
  calls: Call[]
  scenario: Scenario
  callsOf(cmd: string): Call[]
  emit(event: string, payload?: unknown): Promise<void>
}

declare global {
  interface Window {
    __nbiScenario?: Scenario
    nbiMock: MockControl
  }
}

/** The backend's today: Tuesday 14 July 2026 in Berlin, 15:32 local time. */
export const TODAY = '2026-07-14'
const ZONE = 'Europe/Berlin'
const NOW_MINUTE = 15 * 60 + 32
const JUDGED = '2026-07-13'

/** Local midnight in Berlin in summer (UTC+2), as unix seconds. */
function midnight(day: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number]
  return Date.UTC(y, m - 1, d) / 1000 - 2 * 3600
}

// Each app has a rhythm: bytes per minute by hour of day, downloads and
// uploads with different shapes so that the direction toggle visibly changes.
const RHYTHMS: { app: string; inAt(h: number): number; outAt(h: number): number }[] = [
  { app: 'Slack', inAt: (h) => (h >= 9 && h < 18 ? 400_000 : 20_000), outAt: (h) => (h >= 9 && h < 18 ? 150_000 : 5_000) },
  { app: 'Safari', inAt: (h) => (h >= 8 && h < 23 ? 600_000 + 200_000 * Math.sin(h) : 0), outAt: (h) => (h >= 8 && h < 23 ? 30_000 : 0) },
  { app: 'Transmission', inAt: (h) => (h >= 1 && h < 5 ? 2_000_000 : 0), outAt: (h) => (h >= 1 && h < 7 ? 900_000 : 0) },
  { app: 'Mail', inAt: (h) => (h % 3 === 0 ? 120_000 : 10_000), outAt: (h) => (h % 3 === 0 ? 40_000 : 2_000) },
  { app: 'Other apps', inAt: () => 50_000, outAt: (h) => (h >= 12 ? 350_000 : 15_000) },
]

/** A small deterministic wobble, so that no two minutes or days look alike. */
function wobble(day: string, minute: number, salt: number): number {
  const seed = [...day].reduce((a, c) => a * 31 + c.charCodeAt(0), salt) + minute * 7919
  return 0.75 + 0.5 * Math.abs(Math.sin(seed))
}

function dayCurve(day: string | undefined, stepMin: number): DayCurve {
  const d = day ?? TODAY
  const isToday = d === TODAY
  const slots = (24 * 60) / stepMin
  const lastMinute = isToday ? NOW_MINUTE : 24 * 60
  const apps: AppCurve[] = RHYTHMS.map((r, salt) => {
    const bytes_in = new Array<number>(slots).fill(0)
    const bytes_out = new Array<number>(slots).fill(0)
    for (let m = 0; m < lastMinute; m++) {
      const h = Math.floor(m / 60)
      const slot = Math.floor(m / stepMin)
      bytes_in[slot] = (bytes_in[slot] ?? 0) + Math.round(r.inAt(h) * wobble(d, m, salt))
      bytes_out[slot] = (bytes_out[slot] ?? 0) + Math.round(r.outAt(h) * wobble(d, m, salt + 10))
    }
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
    return { app: r.app, bytes_in, bytes_out, total_in: sum(bytes_in), total_out: sum(bytes_out) }
  })
  return {
    day: d,
    timezone: ZONE,
    start: midnight(d),
    step_s: stepMin * 60,
    slots,
    now_slot: isToday ? Math.floor(NOW_MINUTE / stepMin) : null,
    apps,
  }
}

function band(stepMin: number, dir: 'in' | 'out'): Band {
  const slots = (24 * 60) / stepMin
  const mid = Array.from({ length: slots }, (_, i) => {
    const h = Math.floor((i * stepMin) / 60)
    // Typically less than the fixture day, so the day stands out against it.
    return 0.6 * stepMin * RHYTHMS.reduce((a, r) => a + (dir === 'in' ? r.inAt(h) : r.outAt(h)), 0)
  })
  return { low: mid.map((v) => v * 0.5), mid, high: mid.map((v) => v * 1.5) }
}

function typicalDay(day: string | undefined, stepMin: number): TypicalDay {
  const learning = window.nbiMock.scenario.verdict === 'learning'
  return {
    day: day ?? TODAY,
    step_s: stepMin * 60,
    slots: (24 * 60) / stepMin,
    baseline_days: learning ? 3 : 14,
    bytes_in: learning ? null : band(stepMin, 'in'),
    bytes_out: learning ? null : band(stepMin, 'out'),
  }
}

function verdictFor(kind: VerdictKind, day: string = JUDGED): Verdict | null {
  const base: Verdict = {
    day,
    status: 'normal',
    error: 0.012,
    threshold: 0.034,
    baseline_days: 14,
    baseline: Array.from({ length: 14 }, (_, i) => `2026-06-${String(29 - i).padStart(2, '0')}`),
    day_kind: 'workday',
    uncollected_hours: 0,
    model: 'autoencoder-120',
    apps: ['Slack', 'Safari', 'Transmission', 'Mail', 'Other apps'],
    explanation: [],
    summary: 'Mon 13 Jul: normal',
    marked_normal: false,
  }
  switch (kind) {
    case 'none':
      return null
    case 'normal':
      return base
    case 'anomalous':
      return {
        ...base,
        status: 'anomalous',
        error: 0.21,
        explanation: [
          { app: 'Transmission', from_hour: 3, to_hour: 4, bytes: 30_000_000_000, typical_bytes: 595_000 },
          { app: 'Slack', from_hour: 22, to_hour: 24, bytes: 20_000_000, typical_bytes: 6_000_000 },
        ],
        summary: 'Mon 13 Jul: Transmission 03:00–04:00, 30 GB (typically 595 kB)',
      }
    case 'learning':
      return { ...base, status: 'learning', error: null, threshold: null, baseline_days: 3, baseline: [], summary: 'learning: 3 of 7 workdays' }
    case 'insufficient_data':
      return { ...base, status: 'insufficient_data', error: null, uncollected_hours: 14, summary: 'Mon 13 Jul: 14 of 24 hours uncollected' }
    case 'failed':
      return { ...base, status: 'failed', error: null, threshold: null, baseline_days: 0, baseline: [], summary: 'Mon 13 Jul: could not be judged: model: the matrix is empty' }
  }
}

// Traffic per app and day for usage_history, in MB: round numbers, so that
// the tests can add them up by hand. Workdays differ from days off, and
// Transmission only runs on Sundays.
const MB = 1_000_000
const DAILY: { app: string; workday: [number, number]; dayOff: [number, number] }[] = [
  { app: 'Slack', workday: [400, 100], dayOff: [0, 0] },
  { app: 'Safari', workday: [300, 20], dayOff: [300, 20] },
  { app: 'Zoom', workday: [200, 150], dayOff: [0, 0] },
  { app: 'Spotify', workday: [100, 1], dayOff: [100, 1] },
  { app: 'Dropbox', workday: [20, 80], dayOff: [20, 80] },
  { app: 'Mail', workday: [50, 10], dayOff: [50, 10] },
  { app: 'Signal', workday: [5, 5], dayOff: [5, 5] },
]
const SUNDAY: [number, number] = [4000, 2000]
/** Days the Mac was off: no traffic, so no rows. */
const OFF = new Set(['2026-07-11', '2026-06-20', '2026-06-21'])
/** Nothing was recorded before this day. */
const FIRST_DAY = '2025-10-06'

function nextDay(day: string): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number]
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10)
}

function dayRows(day: string): UsageRow[] {
  if (OFF.has(day) || day < FIRST_DAY || day > TODAY) return []
  const [y, m, d] = day.split('-').map(Number) as [number, number, number]
  const weekday = new Date(Date.UTC(y, m - 1, d)).getUTCDay()
  const rows = DAILY.map((a) => {
    const [i, o] = weekday === 0 || weekday === 6 ? a.dayOff : a.workday
    return { period: day, app: a.app, bytes_in: i * MB, bytes_out: o * MB }
  })
  if (weekday === 0) rows.push({ period: day, app: 'Transmission', bytes_in: SUNDAY[0] * MB, bytes_out: SUNDAY[1] * MB })
  return rows.filter((r) => r.bytes_in + r.bytes_out > 0)
}

// The networks: everything goes over the Wi-Fi at home, except Spotify and
// Signal on workdays since 5 January 2026, which go over the phone's hotspot
// (metered). So in 8–14 Jul the phone carried 5 × (100 + 5) MB in and
// 5 × (1 + 5) MB out, and home the rest.
const HOME: NetworkInUse = { id: 'wifi:Home', name: 'Home', metered: false }
const PHONE: NetworkInUse = { id: 'wifi:iPhone', name: 'iPhone', metered: true }
const PHONE_SINCE = '2026-01-05'
const PHONE_APPS = new Set(['Spotify', 'Signal'])

function networkOf(r: UsageRow): NetworkInUse {
  const [y, m, d] = r.period.split('-').map(Number) as [number, number, number]
  const weekday = new Date(Date.UTC(y, m - 1, d)).getUTCDay()
  const workday = weekday !== 0 && weekday !== 6
  return workday && r.period >= PHONE_SINCE && PHONE_APPS.has(r.app) ? PHONE : HOME
}

/** As the backend answers: only networks with bytes in the range, largest first, then by id. */
function networks(from: string, to: string): Networks {
  const sums = new Map<string, NetworkRow>()
  if (window.nbiMock.scenario.usage !== 'empty') {
    for (let day = from; day <= to; day = nextDay(day)) {
      for (const r of dayRows(day)) {
        const n = networkOf(r)
        const phone = n.id === PHONE.id
        const sum = sums.get(n.id) ?? {
          ...n,
          first_seen: phone ? '2026-01-05T07:40:00Z' : '2025-10-06T07:00:00Z',
          last_seen: phone ? '2026-07-14T06:50:00Z' : '2026-07-14T13:31:00Z',
          bytes_in: 0,
          bytes_out: 0,
        }
        sum.bytes_in += r.bytes_in
        sum.bytes_out += r.bytes_out
        sums.set(n.id, sum)
      }
    }
  }
  const list = [...sums.values()].sort(
    (a, b) => b.bytes_in + b.bytes_out - (a.bytes_in + a.bytes_out) || a.id.localeCompare(b.id),
  )
  return { from, to, networks: list }
}

/** As the backend answers: only periods and apps with traffic, by period, then by bytes descending. */
function usageHistory(
  from: string,
  to: string,
  by: 'day' | 'month',
  app: string | undefined,
  network?: string,
): UsageHistory {
  const sums = new Map<string, UsageRow>()
  if (window.nbiMock.scenario.usage !== 'empty') {
    for (let day = from; day <= to; day = nextDay(day)) {
      for (const r of dayRows(day)) {
        if (app !== undefined && r.app !== app) continue
        if (network !== undefined && networkOf(r).id !== network) continue
        const period = by === 'month' ? day.slice(0, 7) : day
        const key = `${period}\u0000${r.app}`
        const sum = sums.get(key) ?? { period, app: r.app, bytes_in: 0, bytes_out: 0 }
        sum.bytes_in += r.bytes_in
        sum.bytes_out += r.bytes_out
        sums.set(key, sum)
      }
    }
  }
  const rows = [...sums.values()].sort(
    (a, b) =>
      a.period.localeCompare(b.period) ||
      b.bytes_in + b.bytes_out - (a.bytes_in + a.bytes_out) ||
      a.app.localeCompare(b.app),
  )
  return { from, to, by, rows }
}

function exportRange(from: string, to: string, format: string, app: string | undefined): ExportResult | null {
  if (window.nbiMock.scenario.exportAnswer === 'cancel') return null
  const rows = usageHistory(from, to, 'day', app).rows.length
  const name = ['nbi', from, to, ...(app === undefined ? [] : [app])].join('_')
  return { path: `/Users/me/Downloads/${name}.${format}`, rows }
}

const HISTORY: HistoryEntry[] = [
  { day: '2026-07-13', status: 'normal', summary: 'Mon 13 Jul: normal', marked_normal: false },
  { day: '2026-07-12', status: 'anomalous', summary: 'Sun 12 Jul: Netflix 01:00–03:00, 4.1 GB (typically 0 B)', marked_normal: false },
  { day: '2026-07-11', status: 'normal', summary: 'Sat 11 Jul: normal', marked_normal: false },
  { day: '2026-07-10', status: 'anomalous', summary: 'Fri 10 Jul: Zoom 19:00–21:00, 1.9 GB (typically 12 MB)', marked_normal: true },
]

/** As the backend picks the glance's plan: the first that counts the network in use, else the first of every network, else the first. */
function planInUse(plans: Plan[], network: NetworkInUse | null): Plan | null {
  const counts = (p: Plan): boolean =>
    network !== null && ((p.networks ?? []).includes(network.id) || (p.metered === true && network.metered))
  return (network ? (plans.find(counts) ?? plans.find((p) => p.all_networks)) : undefined) ?? plans[0] ?? null
}

function status(state: SourceState): Status {
  const s = window.nbiMock.scenario
  const plans = s.plans ?? (s.plan ? [s.plan] : [])
  const network = s.network === undefined ? HOME : s.network
  const plan = s.plans ? planInUse(plans, network) : (s.plan ?? null)
  return {
    state,
    reason: state === 'failing' ? 'nettop exited with status 1' : null,
    last_tick: '2026-07-14T13:31:00Z',
    source: 'nettop',
    host: 'mbp',
    grafana_url: null,
    plan,
    plans,
    // Left out when unknown, as serde skips a None.
    ...(network ? { network } : {}),
  }
}

const scenario: Scenario = window.__nbiScenario ?? {}
let sourceState: SourceState = scenario.state ?? 'watching'
let marked = new Set<string>()

// Where each app's bytes went: two organisations for every app, a third
// ("local network") for the browsers.
function destinations(from: string, to: string, app: string | undefined): Destinations {
  const MB = 1_000_000
  const all: DestinationRow[] = ['Safari', 'Slack', 'Mail', 'Spotify', 'Transmission', 'Google Chrome'].flatMap((a) => [
    { app: a, destination: 'Example Cloud (US)', address: '192.0.2.10', org: 'Example Cloud', country: 'US', host: 'edge.example.net', bytes_in: 800 * MB, bytes_out: 40 * MB },
    { app: a, destination: 'Example Video (DE)', address: '198.51.100.20', org: 'Example Video', country: 'DE', host: null, bytes_in: 300 * MB, bytes_out: 10 * MB },
    ...(a === 'Safari'
      ? [{ app: a, destination: 'local network', address: '192.168.1.1', org: null, country: null, host: null, bytes_in: 2 * MB, bytes_out: MB }]
      : []),
  ])
  return { from, to, rows: all.filter((r) => app === undefined || r.app === app) }
}

async function answer(cmd: string, args: Record<string, unknown>): Promise<unknown> {
  const s = window.nbiMock.scenario
  const wait = s.delay?.[cmd]
  if (wait) await new Promise((r) => setTimeout(r, wait))
  const failure = s.reject?.[cmd]
  // Tauri rejects with the command's error value; nbi's commands return strings.
  if (failure !== undefined) throw failure
  const day = typeof args.day === 'string' ? args.day : undefined
  const stepMin = args.stepMin === 1 ? 1 : 5
  const app = typeof args.app === 'string' ? args.app : undefined
  const network = typeof args.network === 'string' ? args.network : undefined
  switch (cmd) {
    case 'day_curve':
      return dayCurve(day, stepMin)
    case 'typical_day':
      return typicalDay(day, stepMin)
    case 'verdict': {
      const v = verdictFor(s.verdict ?? 'normal', day)
      return v && marked.has(v.day) ? { ...v, marked_normal: true } : v
    }
    case 'learning':
      return { have: 3, need: 7, day_kind: 'workday' } satisfies Learning
    case 'status':
      return status(sourceState)
    case 'pause':
      sourceState = 'paused'
      return status(sourceState)
    case 'resume':
      sourceState = 'watching'
      return status(sourceState)
    case 'check_now':
      return verdictFor('anomalous')
    case 'mark_normal':
      marked = new Set([...marked, String(args.day)])
      return { ...verdictFor('anomalous', String(args.day)), marked_normal: true }
    case 'new_normal':
      marked = new Set([...marked, String(args.day)])
      return {
        ...verdictFor('anomalous', String(args.day)),
        marked_normal: true,
        routine: { since: String(args.day), kind: null, by: 'owner' },
      }
    case 'history':
      return HISTORY.slice(0, typeof args.limit === 'number' ? args.limit : HISTORY.length)
    case 'usage_history':
      return usageHistory(String(args.from), String(args.to), args.by === 'month' ? 'month' : 'day', app, network)
    case 'networks':
      return networks(String(args.from), String(args.to))
    case 'destinations':
      return destinations(String(args.from), String(args.to), app)
    case 'export_range':
      return exportRange(String(args.from), String(args.to), String(args.format), app)
    default:
      throw `unknown command ${cmd}`
  }
}

window.nbiMock = {
  calls: [],
  scenario,
  callsOf(cmd) {
    return this.calls.filter((c) => c.cmd === cmd)
  },
  async emit(event, payload) {
    await emit(event, payload)
  },
}

mockIPC(
  (cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>
    window.nbiMock.calls.push({ cmd, args: JSON.parse(JSON.stringify(a)) as Record<string, unknown> })
    if (cmd.startsWith('plugin:event|')) return Promise.reject('event plugin not available')
    return answer(cmd, a)
  },
  { shouldMockEvents: !scenario.noEvents },
)
