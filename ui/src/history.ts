// Recent verdicts, newest first; each one opens its day.
import type { Day, HistoryEntry, VerdictStatus } from './api'
import { fill, h } from './dom'
import { formatDay } from './format'

const LABELS: Record<VerdictStatus, string> = {
  normal: 'Normal',
  anomalous: 'Unusual',
  learning: 'Learning',
  insufficient_data: 'Not enough data',
  failed: 'Not judged',
}

export function historyLabel(e: HistoryEntry): string {
  return e.status === 'anomalous' && e.marked_normal ? 'Unusual, marked normal' : LABELS[e.status]
}

export function renderHistory(root: HTMLElement, entries: HistoryEntry[], current: Day | null, open: (day: Day) => void): void {
  root.hidden = entries.length === 0
  const list = h(
    'ul',
    {},
    ...entries.map((e) =>
      h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'history-entry',
            title: e.summary,
            attrs: { 'data-day': e.day, 'data-status': e.status, ...(e.day === current ? { 'aria-current': 'date' } : {}) },
            on: { click: () => open(e.day) },
          },
          h('span', { class: 'mark', attrs: { 'aria-hidden': 'true' } }),
          h('span', {}, formatDay(e.day)),
          h('span', { class: 'muted' }, historyLabel(e)),
        ),
      ),
    ),
  )
  fill(root, h('h3', {}, 'Recent days'), list)
}
