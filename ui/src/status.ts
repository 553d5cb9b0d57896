// The status line: is the source watching, and when did it last report; and
// under it, the network the bytes go over.
import type { NetworkInUse, Status } from './api'
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

/** "On Home", "On iPhone · metered"; empty while the network in use is not known. */
export function networkInUseText(network: NetworkInUse | null | undefined): string {
  if (!network) return ''
  const name = (network.name ?? '').trim() || network.id
  return `On ${name}${network.metered ? ' · metered' : ''}`
}

/**
 * The network that carried bytes last, its id on hover. Its name is the
 * owner's or the OS's (a Wi-Fi name): text, never markup.
 */
export function renderNetworkInUse(root: HTMLElement, network: NetworkInUse | null | undefined): void {
  root.hidden = !network
  if (!network) {
    delete root.dataset.metered
    root.removeAttribute('title')
    fill(root)
    return
  }
  const name = (network.name ?? '').trim() || network.id
  root.title = network.id
  root.dataset.metered = String(network.metered)
  fill(
    root,
    h('span', { class: 'muted' }, 'On '),
    h('strong', { class: 'network-name' }, name),
    network.metered && h('span', { class: 'network-metered' }, ' · metered'),
  )
}
