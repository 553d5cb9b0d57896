// The window under the tray icon: status and data plan, then two views.
// Today: the last verdict, the day's curve against the typical day, the top
// apps and recent verdicts. History: traffic per day or month over a range,
// its top apps, and an export.
import { listen } from '@tauri-apps/api/event'
import { readAddress, writeAddress, type View } from './address'
import * as api from './api'
import type {
  Day,
  DayCurve,
  DestinationRow,
  ExportFormat,
  ExportResult,
  HistoryEntry,
  Learning,
  NetworkId,
  NetworkRow,
  Status,
  StepMin,
  TypicalDay,
  UsageHistory,
  Verdict,
} from './api'
import { renderApps } from './apps'
import { UsageBars } from './bars'
import { CurveChart, type Direction } from './chart'
import { isDay, localToday, stepDay } from './day'
import { fill, h } from './dom'
import { formatDay } from './format'
import { renderHistory } from './history'
import { NetworkChooser, networkName, renderNetworksTable } from './networks'
import { renderPlan } from './plan'
import { isMonth, periodsOf, spanOf, type Period, type Range, type Span } from './range'
import { renderNetworkInUse, renderStatus } from './status'
import './style.css'
import { appTotals, assignColors, periodLayers, STACKED_APPS } from './usage'
import { ExportMenu, renderDestinations, renderFilter, renderNotice, renderUsageTable, renderUsageTitle } from './usage-view'
import { renderVerdict } from './verdict'

const HISTORY_LIMIT = 7
const POLL_MS = 60_000

/** The History view's data for one span. */
interface Usage {
  span: Span
  /** The network `all` and `app` count the bytes of; null: every network. */
  network: NetworkId | null
  /** All apps: the table, and the chart without a filter. Null until loaded, or after a failure. */
  all: UsageHistory | null
  /** The chosen app's rows: the chart with a filter; and where its bytes went (null after a failure). */
  app: { name: string; history: UsageHistory; destinations: DestinationRow[] | null } | null
  /** The span's networks, largest first: the chooser and the networks table. Null until loaded, or after a failure. */
  networks: NetworkRow[] | null
  loading: boolean
}

interface State {
  view: View
  /** The day shown; null is "today", which moves on at midnight. */
  day: Day | null
  /** Today as the backend sees it once it has said so; the local date until then. */
  today: Day
  stepMin: StepMin
  dir: Direction
  curve: DayCurve | null
  typical: TypicalDay | null
  verdict: Verdict | null
  learning: Learning | null
  status: Status | null
  history: HistoryEntry[]
  checking: boolean
  marking: boolean
  toggling: boolean
  checkError: string | null
  /** Failing commands and their messages, cleared when the command next succeeds. */
  errors: Map<string, string>
  range: Range
  /** The History view's app filter. */
  app: string | null
  /** The History view's network filter, a network id. */
  network: NetworkId | null
  usage: Usage | null
  exporting: boolean
  /** The last export's file, until dismissed. */
  exported: ExportResult | null
}

const address = readAddress(location.search)

const state: State = {
  view: address.view,
  day: address.day,
  today: localToday(),
  stepMin: 5,
  dir: 'in',
  curve: null,
  typical: null,
  verdict: null,
  learning: null,
  status: null,
  history: [],
  checking: false,
  marking: false,
  toggling: false,
  checkError: null,
  errors: new Map(),
  range: address.range,
  app: address.app,
  network: address.network,
  usage: null,
  exporting: false,
  exported: null,
}

// Answers can arrive after the person has moved on; only the newest request
// of each kind may draw.
let dayRequest = 0
let verdictRequest = 0
let usageRequest = 0
/**
 * The first answer for the day says which day is today as the backend sees
 * it; the History view's ranges end on that day, so they wait for it.
 */
let firstDay: Promise<void> = Promise.resolve()

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (!el) throw new Error(`#${id} is missing from index.html`)
  return el as T
}

const ui = {
  errors: $('errors'),
  status: $('status'),
  network: $('network'),
  plan: $('plan'),
  tabs: [...document.querySelectorAll<HTMLButtonElement>('[role="tab"][data-view]')],
  viewToday: $('view-today'),
  viewHistory: $('view-history'),
  usageRange: $('usage-range'),
  usageFilter: $('usage-filter'),
  usageNotice: $('usage-notice'),
  usageApps: $<HTMLTableElement>('usage-apps'),
  usageDestinations: $<HTMLTableElement>('usage-destinations'),
  usageNetworks: $<HTMLTableElement>('usage-networks'),
  exportButton: $<HTMLButtonElement>('export'),
  verdict: $('verdict'),
  dayLabel: $('day-label'),
  prev: $<HTMLButtonElement>('prev'),
  next: $<HTMLButtonElement>('next'),
  today: $<HTMLButtonElement>('today'),
  apps: $<HTMLUListElement>('apps'),
  history: $('history'),
}
const chart = new CurveChart($('chart'))
const bars = new UsageBars($('bars'), (period) => openPeriod(period))
const exportMenu = new ExportMenu(ui.exportButton, $('export-menu'), (format) => void exportShown(format))
const networkChooser = new NetworkChooser($<HTMLSelectElement>('usage-network'), (network) => selectNetwork(network))

// What a person reads when a command fails; the command name stays in the
// tooltip for whoever debugs it.
const FAILED: Record<string, string> = {
  day_curve: "Couldn't load the day's traffic",
  typical_day: "Couldn't load the typical day",
  verdict: "Couldn't load the verdict",
  learning: "Couldn't read the learning progress",
  status: "Couldn't read the watcher's status",
  pause: "Couldn't pause watching",
  resume: "Couldn't resume watching",
  mark_normal: "Couldn't mark the day as normal",
  new_normal: "Couldn't start a new normal from that day",
  history: "Couldn't load recent days",
  usage_history: "Couldn't load the usage history",
  'usage_history:app': "Couldn't load the app's usage history",
  destinations: "Couldn't load where the app's bytes went",
  networks: "Couldn't load the networks",
  export_range: "Couldn't export",
}

/**
 * Runs a command; a failure goes to the banner instead of vanishing. `command`
 * names the banner's line: two calls of one command that may fail apart need
 * names of their own.
 */
async function run<T>(command: string, call: () => Promise<T>): Promise<T | undefined> {
  try {
    const value = await call()
    if (state.errors.delete(command)) renderErrors()
    return value
  } catch (err) {
    state.errors.set(command, api.errorMessage(err))
    renderErrors()
    return undefined
  }
}

function renderErrors(): void {
  ui.errors.hidden = state.errors.size === 0
  fill(
    ui.errors,
    h(
      'ul',
      {},
      ...[...state.errors].map(([command, message]) =>
        h('li', { title: command, attrs: { 'data-command': command } }, `${FAILED[command] ?? command}: ${message}`),
      ),
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'dismiss',
        attrs: { 'aria-label': 'Dismiss' },
        on: {
          click: () => {
            state.errors.clear()
            renderErrors()
          },
        },
      },
      '×',
    ),
  )
}

function drawStatus(): void {
  renderStatus(ui.status, state.status, state.toggling, { toggle: (action) => void toggleWatching(action) })
  renderNetworkInUse(ui.network, state.status?.network)
  renderPlan(ui.plan, state.status?.plan, state.status?.plans ?? [])
}

/** Keeps the address in step with what is shown, so that a reload shows it again. */
function syncAddress(): void {
  const query = writeAddress({ day: state.day, view: state.view, range: state.range, app: state.app, network: state.network })
  const search = query ? `?${query}` : ''
  if (location.search !== search) window.history.replaceState(window.history.state, '', search || location.pathname)
}

function drawView(): void {
  for (const tab of ui.tabs) {
    const selected = tab.dataset.view === state.view
    tab.setAttribute('aria-selected', String(selected))
    // One tab stop for the tab list; the arrows move within it.
    tab.tabIndex = selected ? 0 : -1
  }
  ui.viewToday.hidden = state.view !== 'today'
  ui.viewHistory.hidden = state.view !== 'history'
}

function showView(view: View): void {
  if (view === state.view) return
  state.view = view
  drawView()
  syncAddress()
  // Each view draws only while shown; the direction may have changed meanwhile.
  if (view === 'history') void loadUsage()
  else drawDay()
}

function drawVerdict(): void {
  renderVerdict(ui.verdict, state, {
    checkNow: () => void checkNow(),
    markNormal: (day) => void markNormal(day),
    newNormal: (day) => void newNormal(day),
  })
}

/** Both views' Download / Upload switches show the one direction. */
function drawDirection(): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-dir]')) {
    b.setAttribute('aria-pressed', String(b.dataset.dir === state.dir))
  }
}

function drawDay(): void {
  const viewing = state.day ?? state.today
  ui.dayLabel.textContent = state.day === null ? 'Today' : formatDay(viewing)
  ui.dayLabel.title = formatDay(viewing, true)
  ui.next.disabled = state.day === null
  // Hidden rather than removed, so the arrows do not move when it comes back.
  ui.today.style.visibility = state.day === null ? 'hidden' : ''
  drawDirection()
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-step]')) {
    b.setAttribute('aria-pressed', String(Number(b.dataset.step) === state.stepMin))
  }
  if (state.curve) {
    chart.update(state.curve, state.typical, state.dir)
    renderApps(ui.apps, state.curve.apps)
  } else if (dayRequest > 0) {
    chart.clear('Nothing to show for this day.')
    fill(ui.apps)
  }
  renderHistory(ui.history, state.history, state.day ?? state.curve?.day ?? null, (day) => navigate(day))
}

async function loadDay(): Promise<void> {
  const ticket = ++dayRequest
  const day = state.day ?? undefined
  const [curve, typical] = await Promise.all([
    run('day_curve', () => api.dayCurve(day, state.stepMin)),
    run('typical_day', () => api.typicalDay(day, state.stepMin)),
  ])
  if (ticket !== dayRequest) return
  if (curve) {
    if (curve.now_slot !== null && curve.day !== state.today) {
      state.today = curve.day
      // The ranges end today: a new today (midnight, or the backend's day
      // differing from this machine's) moves them.
      if (state.view === 'history' && usageRequest > 0) void loadUsage()
    }
    state.curve = curve
    // A typical day for other slots (an older answer) would be drawn out of step.
    state.typical = typical && typical.day === curve.day ? typical : null
  } else {
    // Keeping the previous day's curve under this day's name would mislead.
    state.curve = null
    state.typical = null
  }
  drawDay()
}

async function loadVerdict(): Promise<void> {
  const ticket = ++verdictRequest
  // Today has no verdict until it is over: show the last judged day instead.
  const verdict = await run('verdict', () => api.verdict(state.day ?? undefined))
  if (ticket !== verdictRequest || verdict === undefined) return
  state.verdict = verdict
  await loadLearning()
  drawVerdict()
}

async function loadLearning(): Promise<void> {
  if (state.verdict?.status !== 'learning') return
  state.learning = (await run('learning', api.learning)) ?? state.learning
}

async function loadStatus(): Promise<void> {
  const status = await run('status', api.status)
  if (status) {
    state.status = status
    drawStatus()
  }
}

async function loadHistory(): Promise<void> {
  const entries = await run('history', () => api.history(HISTORY_LIMIT))
  if (entries) {
    state.history = entries
    drawDay()
  }
}

const sameSpan = (a: Span, b: Span): boolean => a.from === b.from && a.to === b.to && a.by === b.by

/**
 * Loads the History view's range: all apps (for the table, and the chart
 * without a filter), with a filter the chosen app's rows, and the range's
 * networks; the rows are the chosen network's bytes only when there is one.
 * `fresh` false keeps what the same span already has (the networks, and
 * the all-apps rows of the same network), for a change of filter alone.
 */
async function loadUsage(fresh = true): Promise<void> {
  await firstDay
  const ticket = ++usageRequest
  const span = spanOf(state.range, state.today)
  const { app, network } = state
  const old = state.usage && sameSpan(state.usage.span, span) ? state.usage : null
  // Another network's rows are not this network's: they go while it loads.
  const same = old?.network === network ? old : null
  const keep = !fresh && same?.all ? same.all : null
  const keepNetworks = !fresh && old?.networks ? old.networks : null
  // Another span's bars under this span's title would mislead: they go while it loads.
  state.usage = {
    span,
    network,
    all: same?.all ?? null,
    app: same?.app?.name === app ? same.app : null,
    networks: old?.networks ?? null,
    loading: true,
  }
  drawUsage()
  const only = network === null ? {} : { network }
  const [all, one, places, nets] = await Promise.all([
    keep ?? run('usage_history', () => api.usageHistory({ ...span, ...only })),
    app === null ? null : run('usage_history:app', () => api.usageHistory({ ...span, app, ...only })),
    app === null ? null : run('destinations', () => api.destinations({ from: span.from, to: span.to, app })),
    keepNetworks ?? run('networks', async () => (await api.networks({ from: span.from, to: span.to })).networks),
  ])
  if (ticket !== usageRequest) return
  // A failed filter that is no longer chosen no longer needs saying.
  if (app === null && (state.errors.delete('usage_history:app') || state.errors.delete('destinations'))) renderErrors()
  const networks = nets ?? null
  if (network !== null && networks && !networks.some((n) => n.id === network)) {
    // The chosen network carried nothing in this range: back to all networks.
    state.network = null
    syncAddress()
    state.usage = { span, network, all: null, app: null, networks, loading: true }
    void loadUsage(false)
    return
  }
  state.usage = {
    span,
    network,
    all: all ?? null,
    app: one ? { name: app ?? '', history: one, destinations: places?.rows ?? null } : null,
    networks,
    loading: false,
  }
  drawUsage()
}

function drawUsage(): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-range]')) {
    b.setAttribute('aria-pressed', String(b.dataset.range === state.range.kind))
  }
  drawDirection()
  const u = state.usage
  const span = u?.span ?? spanOf(state.range, state.today)
  const what = span.by === 'month' ? 'months' : 'days'
  renderUsageTitle(ui.usageRange, span, state.range, () => setRange({ kind: '12m' }))
  networkChooser.update(u?.networks ?? null, state.network)
  // The chosen network by name ("Home"), and " on Home" after what the chart says.
  const chosen = state.network === null ? null : (u?.networks?.find((n) => n.id === state.network) ?? null)
  const netName = state.network === null ? '' : chosen ? networkName(chosen) : state.network
  const on = state.network === null ? '' : ` on ${netName}`
  const current = u?.network === state.network ? u : null
  const totals = current?.all ? appTotals(current.all.rows) : null
  const top = (totals?.apps ?? []).slice(0, STACKED_APPS).map((a) => a.app)
  const colors = assignColors(top, state.curve?.apps.map((a) => a.app) ?? [])
  const color = (app: string): string => colors.get(app) ?? '--app-other'
  renderFilter(ui.usageFilter, state.app, state.app === null ? '' : color(state.app), () => selectApp(null))
  renderNotice(ui.usageNotice, state.exported, () => {
    state.exported = null
    drawUsage()
  })
  const shown = state.app === null ? current?.all : current?.app?.name === state.app ? current.app.history : null
  if (shown) {
    const periods = periodsOf({ from: shown.from, to: shown.to, by: shown.by })
    bars.update({
      periods,
      by: shown.by,
      layers: periodLayers(shown.rows, periods, state.dir, state.app === null ? top : [state.app], colors),
      emptyText:
        state.app === null ? `No traffic${on} in these ${what}.` : `No traffic from ${state.app}${on} in these ${what}.`,
    })
  } else {
    bars.clear(!u || u.loading ? 'Loading…' : `Nothing to show for these ${what}.`)
  }
  renderUsageTable(
    ui.usageApps,
    {
      totals,
      colors,
      selected: state.app,
      span,
      // After a failure the chart says so and the banner why: no table at all.
      message: totals
        ? state.network === null
          ? `No app used the network in these ${what}.`
          : `No app used ${netName} in these ${what}.`
        : !u || u.loading
          ? 'Loading…'
          : '',
    },
    selectApp,
  )
  renderDestinations(
    ui.usageDestinations,
    state.app,
    current?.app?.name === state.app ? (current?.app?.destinations ?? null) : null,
    !u || u.loading ? 'Loading…' : '',
    // Destinations are counted over every network: said so while one is chosen.
    state.network !== null,
  )
  renderNetworksTable(
    ui.usageNetworks,
    { networks: u?.networks ?? null, chosen: state.network, message: !u || u.loading ? 'Loading…' : '' },
    selectNetwork,
  )
  ui.exportButton.title =
    state.network === null ? 'Save the range shown to a file' : "Save the range shown to a file (this network's bytes)"
  ui.viewHistory.setAttribute('aria-busy', String(u?.loading ?? false))
  exportMenu.setBusy(state.exporting)
}

function setRange(range: Range): void {
  state.range = range
  syncAddress()
  void loadUsage()
}

function selectApp(app: string | null): void {
  if (app === state.app) return
  state.app = app
  syncAddress()
  void loadUsage(false)
}

function selectNetwork(network: NetworkId | null): void {
  if (network === state.network) return
  state.network = network
  syncAddress()
  void loadUsage(false)
}

/** A bar was chosen: a month opens by day, a day opens in the Today view. */
function openPeriod(period: Period): void {
  if (isMonth(period)) {
    setRange({ kind: 'month', month: period })
  } else if (isDay(period)) {
    showView('today')
    navigate(period)
  }
}

/** Exports the range shown (and its app filter) through the backend's save dialog. */
async function exportShown(format: ExportFormat): Promise<void> {
  const span = state.usage?.span ?? spanOf(state.range, state.today)
  state.exporting = true
  drawUsage()
  const { app, network } = state
  const result = await run('export_range', () =>
    api.exportRange({
      from: span.from,
      to: span.to,
      format,
      ...(app === null ? {} : { app }),
      ...(network === null ? {} : { network }),
    }),
  )
  state.exporting = false
  // undefined: it failed, and the banner says so; null: the dialog was cancelled.
  if (result) state.exported = result
  drawUsage()
}

/** The backend has new data: today's curve (if shown), the status, the verdicts, the range shown. */
async function refresh(): Promise<void> {
  await Promise.all([
    state.day === null ? loadDay() : null,
    loadStatus(),
    loadVerdict(),
    loadHistory(),
    state.view === 'history' ? loadUsage() : null,
  ])
}

function navigate(day: Day | null): void {
  state.day = day === null || day >= state.today ? null : day
  state.checkError = null
  syncAddress()
  drawDay()
  void loadDay()
  void loadVerdict()
}

async function toggleWatching(action: 'pause' | 'resume'): Promise<void> {
  state.toggling = true
  drawStatus()
  const status = await run(action, action === 'pause' ? api.pause : api.resume)
  state.toggling = false
  if (status) state.status = status
  drawStatus()
}

async function checkNow(): Promise<void> {
  state.checking = true
  state.checkError = null
  drawVerdict()
  try {
    state.verdict = await api.checkNow()
    verdictRequest++ // an older verdict answer still on its way must not replace this one
    await loadLearning()
  } catch (err) {
    // Shown in the card, next to the button that failed, rather than in the banner.
    state.checkError = api.errorMessage(err)
  }
  state.checking = false
  drawVerdict()
  void loadHistory()
}

const markNormal = (day: Day): Promise<void> => mark('mark_normal', () => api.markNormal(day))

const newNormal = (day: Day): Promise<void> => mark('new_normal', () => api.newNormal(day))

/** Sends one of the owner's marks on a day and shows the verdict it answers with. */
async function mark(command: 'mark_normal' | 'new_normal', send: () => Promise<Verdict>): Promise<void> {
  state.marking = true
  drawVerdict()
  const verdict = await run(command, send)
  state.marking = false
  if (verdict) {
    state.verdict = verdict
    verdictRequest++
  }
  drawVerdict()
  void loadHistory()
}

function wire(): void {
  ui.prev.addEventListener('click', () => navigate(stepDay(state.day, -1, state.today)))
  ui.next.addEventListener('click', () => navigate(stepDay(state.day, 1, state.today)))
  ui.today.addEventListener('click', () => navigate(null))
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-dir]')) {
    b.addEventListener('click', () => {
      state.dir = b.dataset.dir === 'out' ? 'out' : 'in'
      if (state.view === 'history') drawUsage()
      else drawDay()
    })
  }
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-range]')) {
    b.addEventListener('click', () => {
      const kind = b.dataset.range
      if (kind !== '7d' && kind !== '30d' && kind !== '12m') return
      if (state.range.kind !== kind) setRange({ kind })
    })
  }
  for (const tab of ui.tabs) {
    tab.addEventListener('click', () => showView(tab.dataset.view === 'history' ? 'history' : 'today'))
    // Tabs as the platform's tab lists work: arrows, Home and End move and select.
    tab.addEventListener('keydown', (e) => {
      const at = ui.tabs.indexOf(tab)
      const n = ui.tabs.length
      const to: Record<string, number> = { ArrowRight: (at + 1) % n, ArrowLeft: (at - 1 + n) % n, Home: 0, End: n - 1 }
      const next = ui.tabs[to[e.key] ?? -1]
      if (!next) return
      e.preventDefault()
      showView(next.dataset.view === 'history' ? 'history' : 'today')
      next.focus()
    })
  }
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-step]')) {
    b.addEventListener('click', () => {
      const step: StepMin = b.dataset.step === '1' ? 1 : 5
      if (step === state.stepMin) return
      state.stepMin = step
      drawDay()
      void loadDay()
    })
  }
  // Left and right step through days, as the arrows do, in the Today view
  // and unless something focused (the tabs, a chart) took the key.
  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || state.view !== 'today') return
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return
    if (e.key === 'ArrowLeft') navigate(stepDay(state.day, -1, state.today))
    else if (e.key === 'ArrowRight' && state.day !== null) navigate(stepDay(state.day, 1, state.today))
  })
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    chart.restyle()
    bars.restyle()
  })
}

async function subscribe(): Promise<void> {
  try {
    await listen(api.EVENTS.updated, () => void refresh())
    await listen<Status>(api.EVENTS.status, (e) => {
      state.status = e.payload
      drawStatus()
    })
    await listen<string>(api.EVENTS.showDay, (e) => {
      if (!isDay(e.payload)) return
      showView('today')
      navigate(e.payload)
    })
  } catch {
    // No event channel (no event plugin, or not inside the app at all): poll,
    // so the window still follows the data.
    window.setInterval(() => void refresh(), POLL_MS)
  }
}

wire()
syncAddress()
drawView()
drawStatus()
drawVerdict()
drawDay()
drawUsage()
void subscribe()
firstDay = loadDay()
void Promise.all([
  firstDay,
  loadStatus(),
  loadVerdict(),
  loadHistory(),
  state.view === 'history' ? loadUsage() : null,
]).then(() => {
  document.body.dataset.ready = 'true'
})
