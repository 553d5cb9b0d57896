// The IPC contract with the tray app. Field names are snake_case because that
// is how serde sends them; invoke arguments are camelCase because that is how
// Tauri maps them onto the Rust command parameters.
import { invoke } from '@tauri-apps/api/core'

/** "YYYY-MM-DD", a local calendar day. */
export type Day = string

export interface AppCurve {
  app: string
  bytes_in: number[]
  bytes_out: number[]
  total_in: number
  total_out: number
}

export interface DayCurve {
  day: Day
  /** IANA zone the day is in. */
  timezone: string
  /** Unix seconds of the first slot (local midnight). */
  start: number
  /** 60 or 300. */
  step_s: number
  /** 1440 or 288 normally; DST days have 23 or 25 hours. */
  slots: number
  /** Index of the slot containing "now" when the day is today, else null. */
  now_slot: number | null
  /** Top apps by total, "Other apps" last if any; arrays have `slots` entries. */
  apps: AppCurve[]
}

/** Bytes per slot, `slots` entries each. */
export interface Band {
  low: number[]
  mid: number[]
  high: number[]
}

export interface TypicalDay {
  day: Day
  step_s: number
  slots: number
  baseline_days: number
  /** Null while learning (no baseline yet). */
  bytes_in: Band | null
  bytes_out: Band | null
}

export interface Explanation {
  app: string
  from_hour: number
  /** Exclusive end: 3 → 4 is the hour 03:00–04:00. */
  to_hour: number
  bytes: number
  typical_bytes: number
  /** 'upload': `bytes` is what the app sent, far beyond what it ever sent in those hours. */
  direction?: 'upload'
  /** Where the run's bytes went, largest (in the run's direction) first; absent when the source gave none. */
  destinations?: RunDestination[]
  /** What is new about the run, when that is the news: an app never seen, or a destination never sent to. */
  new?: 'app' | 'destination'
}

export interface RunDestination {
  /** As shown: "Dropbox, Inc. (US)", "local network", or an address. */
  destination: string
  org: string | null
  country: string | null
  bytes_in: number
  bytes_out: number
}

export type VerdictStatus = 'normal' | 'anomalous' | 'learning' | 'insufficient_data' | 'failed'
export type DayKind = 'workday' | 'day_off'

export interface Verdict {
  day: Day
  status: VerdictStatus
  error: number | null
  threshold: number | null
  baseline_days: number
  baseline: Day[]
  day_kind: DayKind
  uncollected_hours: number
  model: string
  apps: string[]
  explanation: Explanation[]
  summary: string
  marked_normal: boolean
  /** A change of routine recognised on this day, or the owner's new normal starting on it. */
  routine?: Routine
}

/** A new routine: baselines of the days it covers start on `since`. */
export interface Routine {
  since: Day
  /** The kind of day that changed; null: every day (the owner's new normal). */
  kind: DayKind | null
  by: 'detected' | 'owner'
}

export interface Learning {
  have: number
  need: number
  day_kind: DayKind
}

export type SourceState = 'starting' | 'watching' | 'paused' | 'failing' | 'stopped'

/** A network id as the backend names networks: "wifi:Home", "cell:pdp_ip0". */
export type NetworkId = string

/** A data plan's current billing period, as far as it is used up (`PlanUsage`). */
export interface Plan {
  /** First and last day of the billing period, both included. */
  period_start: Day
  period_end: Day
  /** Bytes in and out together since `period_start`, over the networks the plan counts. */
  used_bytes: number
  limit_bytes: number
  /** The plan's name in the configuration; "Data plan" for an older single `[plan]`. */
  name: string
  /** The networks it counts: those its configuration names, and with `metered` the networks metered now. */
  networks: NetworkId[]
  /** It counts the metered networks. */
  metered: boolean
  /** It counts every network. */
  all_networks: boolean
}

export type PlanUsage = Plan

/** The network that carried bytes last, as the status gives it. */
export interface NetworkInUse {
  id: NetworkId
  /** The owner's name, else the OS's: user- and OS-controlled text. */
  name: string
  metered: boolean
}

export interface Status {
  state: SourceState
  reason: string | null
  /** RFC 3339, UTC. */
  last_tick: string | null
  source: string
  host: string
  grafana_url: string | null
  /**
   * The plan that counts the network in use (else the first plan); absent
   * or null when no data plan is configured.
   */
  plan?: Plan | null
  /** Every plan's current period, in configuration order; absent from older backends. */
  plans?: Plan[]
  /** The network that carried bytes last; absent when the source does not know it. */
  network?: NetworkInUse | null
  /** Why the source sees less than it could ("counting TCP only: …"); absent when it sees all. */
  mode_note?: string | null
}

export interface HistoryEntry {
  day: Day
  status: VerdictStatus
  summary: string
  marked_normal: boolean
}

export type StepMin = 1 | 5

/** How `usage_history` adds traffic up: per local day or per calendar month. */
export type UsageBy = 'day' | 'month'

export interface UsageQuery {
  /** First and last local day, both included. */
  from: Day
  to: Day
  by: UsageBy
  /** Only this app; all apps when left out. */
  app?: string
  /** Only this network's bytes; every network's when left out. */
  network?: NetworkId
}

export interface UsageRow {
  /** "YYYY-MM-DD" by day, "YYYY-MM" by month. */
  period: string
  app: string
  bytes_in: number
  bytes_out: number
}

export interface UsageHistory {
  from: Day
  to: Day
  by: UsageBy
  /**
   * By period, then by bytes (in + out) descending. Only periods and apps
   * with traffic appear: a period without rows had none.
   */
  rows: UsageRow[]
}

/** One app's bytes to one destination (`nbi destinations --json`). */
export interface DestinationRow {
  app: string
  /** As shown: the organisation and country ("Google LLC (US)"), "local network", or the address. */
  destination: string
  /** The remote address. */
  address: string
  org: string | null
  country: string | null
  /** The address's reverse DNS name, when one was found (lookups may be off). */
  host: string | null
  bytes_in: number
  bytes_out: number
}

export interface Destinations {
  from: Day
  to: Day
  /** Largest (in + out) first. */
  rows: DestinationRow[]
}

export interface DestinationsQuery {
  from: Day
  to: Day
  app?: string
}

/** One network with bytes in a range (`nbi networks --json`). */
export interface NetworkRow {
  id: NetworkId
  /** The owner's name, else the OS's, else the id's label: user- and OS-controlled text. */
  name: string
  /** The owner's word, else the OS's; false when neither said. */
  metered: boolean
  /** RFC 3339, UTC: the first and last time bytes went over it (all history). */
  first_seen: string | null
  last_seen: string | null
  /** Bytes over it in the range asked. */
  bytes_in: number
  bytes_out: number
}

export interface Networks {
  from: Day
  to: Day
  /** Only networks with bytes in the range; largest (in + out) first. */
  networks: NetworkRow[]
}

export interface NetworksQuery {
  from: Day
  to: Day
}

export type ExportFormat = 'csv' | 'ndjson'

export interface ExportQuery {
  from: Day
  to: Day
  format: ExportFormat
  app?: string
  /** Only this network's bytes. */
  network?: NetworkId
}

export interface ExportResult {
  /** Where the file was written, as the save dialog chose it. */
  path: string
  rows: number
}

/** Backend events; `updated` has no payload. */
export const EVENTS = {
  updated: 'nbi://updated',
  status: 'nbi://status',
  showDay: 'nbi://show-day',
} as const

// `day` is left out rather than sent as null when absent: the backend reads a
// missing day as "today" (or "the last judged day" for `verdict`).
function withDay(day: Day | undefined, rest: Record<string, unknown> = {}): Record<string, unknown> {
  return day === undefined ? rest : { day, ...rest }
}

export const dayCurve = (day: Day | undefined, stepMin: StepMin): Promise<DayCurve> =>
  invoke<DayCurve>('day_curve', withDay(day, { stepMin }))

export const typicalDay = (day: Day | undefined, stepMin: StepMin): Promise<TypicalDay> =>
  invoke<TypicalDay>('typical_day', withDay(day, { stepMin }))

export const verdict = (day?: Day): Promise<Verdict | null> => invoke<Verdict | null>('verdict', withDay(day))

export const learning = (): Promise<Learning> => invoke<Learning>('learning')

export const status = (): Promise<Status> => invoke<Status>('status')

export const pause = (): Promise<Status> => invoke<Status>('pause')

export const resume = (): Promise<Status> => invoke<Status>('resume')

export const checkNow = (): Promise<Verdict> => invoke<Verdict>('check_now')

export const markNormal = (day: Day): Promise<Verdict> => invoke<Verdict>('mark_normal', { day })

/** "This is my new normal": baselines start on `day`; answers with its verdict. */
export const newNormal = (day: Day): Promise<Verdict> => invoke<Verdict>('new_normal', { day })

export const history = (limit?: number): Promise<HistoryEntry[]> =>
  invoke<HistoryEntry[]>('history', limit === undefined ? {} : { limit })

// `app` (and `network`) are left out rather than sent as null when every app
// (every network) is meant.
function withApp<T extends { app?: string; network?: string }>(query: T): Record<string, unknown> {
  const { app, network, ...rest } = query
  return { ...rest, ...(app === undefined ? {} : { app }), ...(network === undefined ? {} : { network }) }
}

export const usageHistory = (query: UsageQuery): Promise<UsageHistory> =>
  invoke<UsageHistory>('usage_history', withApp(query))

/** The networks bytes went over in a range of days, largest first. */
export const networks = (query: NetworksQuery): Promise<Networks> =>
  invoke<Networks>('networks', { from: query.from, to: query.to })

/** Where each app's bytes went over a range of days. */
export const destinations = (query: DestinationsQuery): Promise<Destinations> =>
  invoke<Destinations>('destinations', withApp(query))

/** Opens the backend's save dialog; null when the person cancelled it. */
export const exportRange = (query: ExportQuery): Promise<ExportResult | null> =>
  invoke<ExportResult | null>('export_range', withApp(query))

/** A rejected invoke carries whatever the command returned as its error: usually a string. */
export function errorMessage(err: unknown): string {
  if (typeof err === 'string') return err
  if (err instanceof Error) return err.message
  if (err && typeof err === 'object' && 'message' in err && typeof err.message === 'string') return err.message
  try {
    return JSON.stringify(err)
  } catch {
    return String(err)
  }
}
