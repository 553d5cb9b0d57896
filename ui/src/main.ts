// The window under the tray icon: status, the last verdict, the day's curve
// against the typical day, the top apps and recent verdicts.
import { listen } from '@tauri-apps/api/event'
import * as api from './api'
import type { Day, DayCurve, HistoryEntry, Learning, Status, StepMin, TypicalDay, Verdict } from './api'
import { renderApps } from './apps'
import { CurveChart, type Direction } from './chart'
import { dayFromQuery, isDay, localToday, stepDay } from './day'
import { fill, h } from './dom'
import { formatDay } from './format'
import { renderHistory } from './history'
import { renderStatus } from './status'
import './style.css'
import { renderVerdict } from './verdict'

const HISTORY_LIMIT = 7
const POLL_MS = 60_000

interface State {
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
}

const state: State = {
  day: dayFromQuery(location.search),
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
}

// Answers can arrive after the person has moved on; only the newest request
// of each kind may draw.
let dayRequest = 0
let verdictRequest = 0

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (!el) throw new Error(`#${id} is missing from index.html`)
  return el as T
}

const ui = {
  errors: $('errors'),
  status: $('status'),
  verdict: $('verdict'),
  dayLabel: $('day-label'),
  prev: $<HTMLButtonElement>('prev'),
  next: $<HTMLButtonElement>('next'),
  today: $<HTMLButtonElement>('today'),
  apps: $<HTMLUListElement>('apps'),
  history: $('history'),
}
const chart = new CurveChart($('chart'))

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
  history: "Couldn't load recent days",
}

/** Runs a command; a failure goes to the banner instead of vanishing. */
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
}

function drawVerdict(): void {
  renderVerdict(ui.verdict, state, {
    checkNow: () => void checkNow(),
    markNormal: (day) => void markNormal(day),
  })
}

function drawDay(): void {
  const viewing = state.day ?? state.today
  ui.dayLabel.textContent = state.day === null ? 'Today' : formatDay(viewing)
  ui.dayLabel.title = formatDay(viewing, true)
  ui.next.disabled = state.day === null
  // Hidden rather than removed, so the arrows do not move when it comes back.
  ui.today.style.visibility = state.day === null ? 'hidden' : ''
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-dir]')) {
    b.setAttribute('aria-pressed', String(b.dataset.dir === state.dir))
  }
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
    if (curve.now_slot !== null) state.today = curve.day
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

/** The backend has new data: today's curve (if shown), the status, the verdicts. */
async function refresh(): Promise<void> {
  await Promise.all([state.day === null ? loadDay() : null, loadStatus(), loadVerdict(), loadHistory()])
}

function navigate(day: Day | null): void {
  state.day = day === null || day >= state.today ? null : day
  state.checkError = null
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

async function markNormal(day: Day): Promise<void> {
  state.marking = true
  drawVerdict()
  const verdict = await run('mark_normal', () => api.markNormal(day))
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
      drawDay()
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
  // Left and right step through days, as the arrows do.
  document.addEventListener('keydown', (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return
    if (e.key === 'ArrowLeft') navigate(stepDay(state.day, -1, state.today))
    else if (e.key === 'ArrowRight' && state.day !== null) navigate(stepDay(state.day, 1, state.today))
  })
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => chart.restyle())
}

async function subscribe(): Promise<void> {
  try {
    await listen(api.EVENTS.updated, () => void refresh())
    await listen<Status>(api.EVENTS.status, (e) => {
      state.status = e.payload
      drawStatus()
    })
    await listen<string>(api.EVENTS.showDay, (e) => {
      if (isDay(e.payload)) navigate(e.payload)
    })
  } catch {
    // No event channel (no event plugin, or not inside the app at all): poll,
    // so the window still follows the data.
    window.setInterval(() => void refresh(), POLL_MS)
  }
}

wire()
drawStatus()
drawVerdict()
drawDay()
void subscribe()
void Promise.all([loadDay(), loadStatus(), loadVerdict(), loadHistory()]).then(() => {
  document.body.dataset.ready = 'true'
})
