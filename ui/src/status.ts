// The status line: is the source watching, and when did it last report.
import type { Status } from './api'
import { fill, h } from './dom'
import { formatClock } from './format'

export type Tone = 'ok' | 'quiet' | 'bad'

export interface StatusView {
  text: string
  /** "last tick 14:23", or empty before the first tick. */
  detail: string
  tone: Tone
  /** The one action the button offers in this state. */
  action: 'pause' | 'resume'
  /** Why the source sees less than it could, or empty. */
  note: string
}

export function statusView(status: Status | null, timeZone?: string): StatusView {
  return { ...stateView(status, timeZone), note: status?.mode_note?.trim() ?? '' }
}

function stateView(status: Status | null, timeZone?: string): Omit<StatusView, 'note'> {
  const tick = status?.last_tick ? Date.parse(status.last_tick) : Number.NaN
  const detail = Number.isNaN(tick) ? '' : `last tick ${formatClock(tick / 1000, timeZone)}`
  switch (status?.state ?? 'starting') {
    case 'watching':
      return { text: 'Watching', detail, tone: 'ok', action: 'pause' }
    case 'paused':
      return { text: 'Paused', detail, tone: 'quiet', action: 'resume' }
    case 'failing':
      return {
        text: status?.reason ? `Source failing: ${status.reason}` : 'Source failing',
        detail,
        tone: 'bad',
        action: 'pause',
      }
    case 'stopped':
      return { text: 'Stopped', detail, tone: 'bad', action: 'resume' }
    case 'starting':
      return { text: 'Starting…', detail, tone: 'quiet', action: 'pause' }
  }
}

export interface StatusHandlers {
  toggle(action: 'pause' | 'resume'): void
}

export function renderStatus(root: HTMLElement, status: Status | null, busy: boolean, handlers: StatusHandlers): void {
  const view = statusView(status)
  root.dataset.tone = view.tone
  const where = status ? `${status.source} on ${status.host}` : ''
  fill(
    root,
    h('span', { class: 'dot', attrs: { 'aria-hidden': 'true' } }),
    h(
      'span',
      { class: 'status-text', title: where, attrs: { role: 'status' } },
      h('strong', {}, view.text),
      view.detail && h('span', { class: 'muted' }, ` · ${view.detail}`),
      view.note && h('span', { class: 'muted status-note' }, ` · ${view.note}`),
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'small',
        disabled: busy,
        attrs: { 'data-action': view.action },
        on: { click: () => handlers.toggle(view.action) },
      },
      view.action === 'pause' ? 'Pause' : 'Resume',
    ),
  )
}
