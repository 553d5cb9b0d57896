// The verdict card: what the detector said about a day, and why.
import type { Learning, Verdict } from './api'
import { fill, h } from './dom'
import { explanationLine, formatDay, plural } from './format'

export interface VerdictModel {
  verdict: Verdict | null
  /** Only needed while learning; the verdict alone does not say how far along it is. */
  learning: Learning | null
  checking: boolean
  marking: boolean
  checkError: string | null
}

export interface VerdictHandlers {
  checkNow(): void
  markNormal(day: string): void
  newNormal(day: string): void
}

/** The card's headline for a verdict (or for no verdict yet). */
export function verdictTitle(verdict: Verdict | null, learning: Learning | null): string {
  if (!verdict) return 'No day judged yet'
  switch (verdict.status) {
    case 'normal':
      return 'Normal day'
    case 'anomalous':
      return 'Unusual day'
    case 'learning': {
      const have = learning?.have ?? verdict.baseline_days
      const need = learning?.need ?? 7
      return `Learning your rhythm: day ${have} of ${need}`
    }
    case 'insufficient_data':
      return `Not enough data for ${formatDay(verdict.day)}`
    case 'failed':
      return `${formatDay(verdict.day)} could not be judged`
  }
}

const dayKindText = (kind: Verdict['day_kind']): string => (kind === 'workday' ? 'workday' : 'day off')

/** What the owner can say about an unusual day, or what they said. */
function marks(m: VerdictModel, handlers: VerdictHandlers, v: Verdict): Node[] {
  if (v.routine?.by === 'owner') {
    return [h('p', { class: 'muted marked' }, `You said this is your new normal from ${formatDay(v.routine.since)}.`)]
  }
  if (v.marked_normal) return [h('p', { class: 'muted marked' }, 'You marked this day as normal.')]
  const button = (cls: string, label: string, click: () => void): Node =>
    h('button', { type: 'button', class: cls, disabled: m.marking, on: { click } }, label)
  if (m.marking) return [h('div', { class: 'marks' }, button('mark-normal', 'Saving…', () => {}))]
  return [
    h(
      'div',
      { class: 'marks' },
      button('mark-normal', 'This was normal', () => handlers.markNormal(v.day)),
      button('new-normal', 'This is my new normal', () => handlers.newNormal(v.day)),
    ),
  ]
}

function body(m: VerdictModel, handlers: VerdictHandlers): (Node | null)[] {
  const v = m.verdict
  if (!v) {
    return [h('p', { class: 'muted' }, 'The first verdict comes after the first full day of watching.')]
  }
  const uncollected =
    v.uncollected_hours > 0 ? h('p', { class: 'muted' }, `${plural(v.uncollected_hours, 'hour')} uncollected`) : null
  const dayLine = h('p', { class: 'verdict-day muted' }, `${formatDay(v.day)} · ${dayKindText(v.day_kind)}`)
  switch (v.status) {
    case 'normal':
      return [dayLine, v.summary ? h('p', { class: 'summary' }, v.summary) : null, uncollected]
    case 'anomalous': {
      const lines = v.explanation.length
        ? h('ul', { class: 'explanation' }, ...v.explanation.map((e) => h('li', {}, explanationLine(e))))
        : h('p', { class: 'summary' }, v.summary)
      return [dayLine, lines, uncollected, ...marks(m, handlers, v)]
    }
    case 'learning': {
      const kind = m.learning?.day_kind ?? v.day_kind
      return [
        h(
          'p',
          { class: 'muted' },
          `Verdicts start once ${plural(m.learning?.need ?? 7, kind === 'workday' ? 'workday' : 'day off', kind === 'workday' ? 'workdays' : 'days off')} are known.`,
        ),
      ]
    }
    case 'insufficient_data':
      // The summary says the same in the backend's words; the count is enough.
      return [h('p', { class: 'muted' }, `${plural(v.uncollected_hours, 'hour')} uncollected`)]
    case 'failed':
      // The summary carries the reason.
      return [dayLine, h('p', { class: 'summary' }, v.summary)]
  }
}

export function renderVerdict(root: HTMLElement, m: VerdictModel, handlers: VerdictHandlers): void {
  root.dataset.status = m.verdict?.status ?? 'none'
  fill(
    root,
    h(
      'header',
      {},
      h('h2', { class: 'verdict-title' }, verdictTitle(m.verdict, m.learning)),
      h(
        'button',
        {
          type: 'button',
          class: 'small check-now',
          disabled: m.checking,
          attrs: m.checking ? { 'aria-busy': 'true' } : {},
          on: { click: () => handlers.checkNow() },
        },
        m.checking ? 'Checking…' : 'Check now',
      ),
    ),
    ...body(m, handlers),
    m.checkError ? h('p', { class: 'error-line', attrs: { role: 'alert' } }, `Check failed: ${m.checkError}`) : null,
  )
}
