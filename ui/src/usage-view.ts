// The History view around its chart: the range's title (and the way back
// from a month), the app filter, the table of top apps with their shares,
// the export menu and the notice after an export.
import type { DestinationRow, ExportFormat, ExportResult } from './api'
import { fill, h } from './dom'
import { humanBytes, plural } from './format'
import { formatMonth, monthOf, RANGE_LABELS, spanLabel, type Range, type Span } from './range'
import { formatShare, type AppTotal, type Totals } from './usage'

/** Rows in the table; the apps after them share one "N more apps" row. */
export const TABLE_APPS = 10

function swatch(color: string): HTMLSpanElement {
  const el = h('span', { class: 'swatch', attrs: { 'aria-hidden': 'true' } })
  el.style.background = `var(${color})`
  return el
}

/** The range as a heading ("8–14 Jul 2026", "June 2026"); a month by day offers the way back to the months. */
export function renderUsageTitle(root: HTMLElement, span: Span, range: Range, back: () => void): void {
  fill(
    root,
    range.kind === 'month'
      ? h(
          'button',
          {
            type: 'button',
            class: 'small back',
            title: `Back to the last ${RANGE_LABELS['12m']}`,
            on: { click: back },
          },
          `‹ ${RANGE_LABELS['12m']}`,
        )
      : null,
    h(
      'h2',
      { class: 'usage-span', title: `${span.from} to ${span.to}` },
      range.kind === 'month' ? formatMonth(monthOf(span.from), true) : spanLabel(span),
    ),
  )
}

/** "Only ▪ Slack [All apps]" while the chart shows one app; hidden otherwise. */
export function renderFilter(root: HTMLElement, app: string | null, color: string, clear: () => void): void {
  root.hidden = app === null
  if (app === null) {
    fill(root)
    return
  }
  fill(
    root,
    h('span', { class: 'muted' }, 'Only'),
    swatch(color),
    h('strong', { class: 'app-name', title: app }, app),
    h('button', { type: 'button', class: 'small', on: { click: clear } }, 'All apps'),
  )
}

/** After an export: where the file went and how many rows it has. */
export function renderNotice(root: HTMLElement, notice: ExportResult | null, dismiss: () => void): void {
  root.hidden = notice === null
  if (!notice) {
    fill(root)
    return
  }
  fill(
    root,
    h(
      'span',
      { class: 'notice-text' },
      `Exported ${plural(notice.rows, 'row')} to `,
      h('span', { class: 'path', title: notice.path }, notice.path),
    ),
    h('button', { type: 'button', class: 'dismiss', attrs: { 'aria-label': 'Dismiss' }, on: { click: dismiss } }, '×'),
  )
}

export interface TableModel {
  totals: Totals | null
  colors: Map<string, string>
  /** The app the chart is limited to, if any. */
  selected: string | null
  /** Said in the table's body while there are no totals, or none with traffic; without one, no table. */
  message: string
  /** For the caption: "Top apps, 8–14 Jul 2026". */
  span: Span
}

function amounts(t: { bytes_in: number; bytes_out: number; total: number }, share: number): HTMLTableCellElement[] {
  return [
    h('td', { class: 'bytes in' }, humanBytes(t.bytes_in)),
    h('td', { class: 'bytes out' }, humanBytes(t.bytes_out)),
    h('td', { class: 'bytes total' }, humanBytes(t.total)),
    h('td', { class: 'share' }, formatShare(share)),
  ]
}

/**
 * The range's top apps: downloaded, uploaded, total and share of the range.
 * A row limits the chart to its app; the chosen app's row sets it free again.
 */
export function renderUsageTable(root: HTMLTableElement, m: TableModel, select: (app: string | null) => void): void {
  const head = h(
    'thead',
    {},
    h(
      'tr',
      {},
      h('th', { attrs: { scope: 'col' } }, 'App'),
      h('th', { class: 'num', title: 'Downloaded', attrs: { scope: 'col' } }, 'Down'),
      h('th', { class: 'num', title: 'Uploaded', attrs: { scope: 'col' } }, 'Up'),
      h('th', { class: 'num', attrs: { scope: 'col' } }, 'Total'),
      h('th', { class: 'num', title: 'Share of all traffic in the range', attrs: { scope: 'col' } }, 'Share'),
    ),
  )
  const caption = h('caption', { class: 'sr-only' }, `Top apps, ${spanLabel(m.span)}`)
  const t = m.totals
  root.hidden = !t && !m.message
  if (!t || !t.apps.length) {
    fill(
      root,
      caption,
      head,
      h('tbody', {}, h('tr', { class: 'message' }, h('td', { class: 'muted', attrs: { colspan: '5' } }, m.message))),
    )
    return
  }
  const row = (a: AppTotal): HTMLTableRowElement => {
    const chosen = a.app === m.selected
    const pick = (): void => select(chosen ? null : a.app)
    const button = h(
      'button',
      {
        type: 'button',
        class: 'app-pick',
        title: chosen ? 'Show all apps' : `Show only ${a.app}`,
        attrs: { 'aria-pressed': String(chosen) },
        on: {
          click: (e) => {
            // The row listens too: one click, one change.
            e.stopPropagation()
            pick()
          },
        },
      },
      swatch(m.colors.get(a.app) ?? '--app-other'),
      h('span', { class: 'app-name', title: a.app }, a.app),
    )
    const tr = h(
      'tr',
      { class: chosen ? 'app chosen' : 'app', attrs: { 'data-app': a.app }, on: { click: pick } },
      h('th', { attrs: { scope: 'row' } }, button),
      ...amounts(a, a.share),
    )
    return tr
  }
  const shown = t.apps.slice(0, TABLE_APPS)
  const rest = t.apps.slice(TABLE_APPS)
  const restRow = rest.length
    ? h(
        'tr',
        { class: 'rest' },
        h('th', { class: 'muted', attrs: { scope: 'row' } }, plural(rest.length, 'more app')),
        ...amounts(
          {
            bytes_in: rest.reduce((s, a) => s + a.bytes_in, 0),
            bytes_out: rest.reduce((s, a) => s + a.bytes_out, 0),
            total: rest.reduce((s, a) => s + a.total, 0),
          },
          rest.reduce((s, a) => s + a.share, 0),
        ),
      )
    : null
  fill(
    root,
    caption,
    head,
    h('tbody', {}, ...shown.map(row), restRow),
    h(
      'tfoot',
      {},
      h('tr', {}, h('th', { attrs: { scope: 'row' } }, 'All apps'), ...amounts(t, t.total > 0 ? 1 : 0)),
    ),
  )
}

/**
 * The Export… button and its menu of formats: opens on click or the down
 * arrow, arrows move between the formats, Escape closes, a click outside too.
 */
export class ExportMenu {
  private readonly items: HTMLButtonElement[]
  private busy = false

  constructor(
    private readonly button: HTMLButtonElement,
    private readonly menu: HTMLElement,
    pick: (format: ExportFormat) => void,
  ) {
    this.items = [...menu.querySelectorAll<HTMLButtonElement>('[data-format]')]
    for (const item of this.items) {
      item.tabIndex = -1
      item.addEventListener('click', () => {
        this.close(true)
        pick(item.dataset.format === 'ndjson' ? 'ndjson' : 'csv')
      })
    }
    button.addEventListener('click', () => (this.isOpen ? this.close(false) : this.open(0)))
    button.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault()
        this.open(e.key === 'ArrowDown' ? 0 : this.items.length - 1)
      }
    })
    menu.addEventListener('keydown', (e) => this.key(e))
    document.addEventListener('pointerdown', (e) => {
      if (this.isOpen && e.target instanceof Node && !menu.contains(e.target) && !button.contains(e.target)) {
        this.close(false)
      }
    })
  }

  get isOpen(): boolean {
    return !this.menu.hidden
  }

  /** While an export runs the button says so and cannot start another. */
  setBusy(busy: boolean): void {
    if (busy === this.busy) return
    this.busy = busy
    if (busy) this.close(false)
    this.button.disabled = busy
    this.button.textContent = busy ? 'Exporting…' : 'Export…'
    if (busy) {
      this.button.setAttribute('aria-busy', 'true')
    } else {
      this.button.removeAttribute('aria-busy')
      // Disabling the button took the focus away; a keyboard user gets it back.
      if (document.activeElement === null || document.activeElement === document.body) this.button.focus()
    }
  }

  private open(index: number): void {
    this.menu.hidden = false
    this.button.setAttribute('aria-expanded', 'true')
    this.items[index]?.focus()
  }

  private close(refocus: boolean): void {
    if (!this.isOpen) return
    this.menu.hidden = true
    this.button.setAttribute('aria-expanded', 'false')
    if (refocus) this.button.focus()
  }

  private key(e: KeyboardEvent): void {
    const at = this.items.indexOf(document.activeElement as HTMLButtonElement)
    const n = this.items.length
    let next: number | null = null
    if (e.key === 'ArrowDown') next = (at + 1) % n
    else if (e.key === 'ArrowUp') next = (at - 1 + n) % n
    else if (e.key === 'Home') next = 0
    else if (e.key === 'End') next = n - 1
    else if (e.key === 'Escape') {
      e.preventDefault()
      this.close(true)
      return
    } else if (e.key === 'Tab') {
      this.close(false)
      return
    } else return
    e.preventDefault()
    this.items[next]?.focus()
  }
}

/** Destinations listed for a chosen app; the rest share one "N more" row. */
export const TABLE_DESTINATIONS = 8

/**
 * Where the chosen app's bytes went in the range: each destination as a
 * person knows it (organisation and country, "local network", or the
 * address), its address on hover, downloaded and uploaded. Hidden while no
 * app is chosen; `rows` null while loading or after a failure.
 */
export function renderDestinations(
  root: HTMLTableElement,
  app: string | null,
  rows: DestinationRow[] | null,
  message: string,
  /** A network is chosen: the destinations still count every network's bytes, and say so. */
  everyNetwork = false,
): void {
  root.hidden = app === null
  if (app === null) {
    fill(root)
    return
  }
  const caption = h('caption', {}, `Where ${app} sent and received${everyNetwork ? ', on every network' : ''}`)
  const head = h(
    'thead',
    {},
    h(
      'tr',
      {},
      h('th', { attrs: { scope: 'col' } }, 'Destination'),
      h('th', { class: 'num', title: 'Downloaded', attrs: { scope: 'col' } }, 'Down'),
      h('th', { class: 'num', title: 'Uploaded', attrs: { scope: 'col' } }, 'Up'),
    ),
  )
  if (!rows || !rows.length) {
    const said = rows ? `No destinations recorded for ${app} in this range.` : message
    fill(root, caption, head, h('tbody', {}, h('tr', { class: 'message' }, h('td', { class: 'muted', attrs: { colspan: '3' } }, said))))
    return
  }
  // One line per name: two addresses of one organisation are one destination.
  const byName = new Map<string, { addresses: string[]; bytes_in: number; bytes_out: number }>()
  for (const r of rows) {
    const e = byName.get(r.destination) ?? { addresses: [], bytes_in: 0, bytes_out: 0 }
    e.addresses.push(r.host ? `${r.address} (${r.host})` : r.address)
    e.bytes_in += r.bytes_in
    e.bytes_out += r.bytes_out
    byName.set(r.destination, e)
  }
  const named = [...byName.entries()].sort((a, b) => b[1].bytes_in + b[1].bytes_out - (a[1].bytes_in + a[1].bytes_out))
  const shown = named.slice(0, TABLE_DESTINATIONS)
  const rest = named.slice(TABLE_DESTINATIONS)
  const body = shown.map(([name, e]) =>
    h(
      'tr',
      {},
      h('td', { class: 'destination', title: e.addresses.join(', ') }, name),
      h('td', { class: 'bytes in' }, humanBytes(e.bytes_in)),
      h('td', { class: 'bytes out' }, humanBytes(e.bytes_out)),
    ),
  )
  if (rest.length) {
    const sum = (k: 'bytes_in' | 'bytes_out'): number => rest.reduce((t, [, e]) => t + e[k], 0)
    body.push(
      h(
        'tr',
        { class: 'more' },
        h('td', { class: 'muted' }, plural(rest.length, 'more destination')),
        h('td', { class: 'bytes in' }, humanBytes(sum('bytes_in'))),
        h('td', { class: 'bytes out' }, humanBytes(sum('bytes_out'))),
      ),
    )
  }
  // The address data's licence (CC BY 4.0) asks for credit where its names are shown.
  const credit = h(
    'tfoot',
    {},
    h(
      'tr',
      {},
      h(
        'td',
        { class: 'muted credit', attrs: { colspan: '3' } },
        'Names from ip-location-db (Route Views, NRO, DB-IP), CC BY 4.0',
      ),
    ),
  )
  fill(root, caption, head, h('tbody', {}, ...body), credit)
}
