import { describe, expect, it, vi } from 'vitest'
import type { UsageRow } from '../../src/api'
import { appTotals } from '../../src/usage'
import {
  ExportMenu,
  renderDestinations,
  renderFilter,
  renderNotice,
  renderUsageTable,
  renderUsageTitle,
  TABLE_APPS,
  TABLE_DESTINATIONS,
  type TableModel,
} from '../../src/usage-view'

const MB = 1_000_000
const WEEK = { from: '2026-07-08', to: '2026-07-14', by: 'day' } as const

const rows = (apps: [string, number, number][]): UsageRow[] =>
  apps.map(([app, i, o]) => ({ period: '2026-07-14', app, bytes_in: i * MB, bytes_out: o * MB }))

function cells(root: HTMLElement, part: string): string[][] {
  return [...root.querySelectorAll(`${part} tr`)].map((tr) => [...tr.children].map((c) => c.textContent ?? ''))
}

function table(over: Partial<TableModel>): HTMLTableElement {
  const root = document.createElement('table')
  renderUsageTable(
    root,
    { totals: null, colors: new Map(), selected: null, message: 'Loading…', span: WEEK, ...over },
    vi.fn(),
  )
  return root
}

describe('the top apps table', () => {
  it('lists each app downloaded, uploaded, in total and as a share, and all apps below', () => {
    const totals = appTotals(rows([['Transmission', 4000, 2000], ['Slack', 2000, 500], ['Mail', 300, 60]]))
    const root = table({ totals, colors: new Map([['Transmission', '--app-3']]) })
    expect(cells(root, 'thead')).toEqual([['App', 'Down', 'Up', 'Total', 'Share']])
    expect(cells(root, 'tbody')).toEqual([
      ['Transmission', '4.0 GB', '2.0 GB', '6.0 GB', '68 %'],
      ['Slack', '2.0 GB', '500 MB', '2.5 GB', '28 %'],
      ['Mail', '300 MB', '60 MB', '360 MB', '4.1 %'],
    ])
    expect(cells(root, 'tfoot')).toEqual([['All apps', '6.3 GB', '2.6 GB', '8.9 GB', '100 %']])
    expect(root.querySelector('caption')?.textContent).toBe('Top apps, 8–14 Jul 2026')
    const swatches = [...root.querySelectorAll<HTMLElement>('tbody .swatch')].map((s) => s.style.background)
    expect(swatches).toEqual(['var(--app-3)', 'var(--app-other)', 'var(--app-other)'])
  })

  it(`shows ${TABLE_APPS} apps and adds the rest up in one row`, () => {
    const many = rows(Array.from({ length: 13 }, (_, i): [string, number, number] => [`App ${i}`, 100 - i, 0]))
    const root = table({ totals: appTotals(many) })
    const body = cells(root, 'tbody')
    expect(body).toHaveLength(TABLE_APPS + 1)
    // 90 + 89 + 88 MB of the 1222 MB in all.
    expect(body.at(-1)).toEqual(['3 more apps', '267 MB', '0 B', '267 MB', '22 %'])
    expect(root.querySelector('tr.rest button')).toBeNull()
  })

  it('limits the chart to a clicked app, and lets go when it is clicked again', () => {
    const totals = appTotals(rows([['Slack', 2, 1], ['Zoom', 1, 1]]))
    const root = document.createElement('table')
    const select = vi.fn()
    renderUsageTable(root, { totals, colors: new Map(), selected: 'Zoom', message: '', span: WEEK }, select)
    const pick = (app: string): HTMLButtonElement | null => root.querySelector(`tr[data-app="${app}"] .app-pick`)
    expect(pick('Zoom')?.getAttribute('aria-pressed')).toBe('true')
    expect(pick('Slack')?.getAttribute('aria-pressed')).toBe('false')
    pick('Slack')?.click()
    expect(select).toHaveBeenCalledTimes(1)
    expect(select).toHaveBeenLastCalledWith('Slack')
    root.querySelector<HTMLElement>('tr[data-app="Zoom"] td')?.click()
    expect(select).toHaveBeenLastCalledWith(null)
  })

  it('says why it is empty, and is not there at all without a message', () => {
    const empty = table({ totals: appTotals([]), message: 'No app used the network in these days.' })
    expect(empty.querySelector('tbody')?.textContent).toBe('No app used the network in these days.')
    expect(empty.querySelector('tfoot')).toBeNull()
    expect(table({ totals: null, message: 'Loading…' }).hidden).toBe(false)
    expect(table({ totals: null, message: '' }).hidden).toBe(true)
  })

  it('writes app names as text', () => {
    const root = table({ totals: appTotals(rows([['<img src=x onerror=alert(1)>', 1, 1]])) })
    expect(root.querySelector('img')).toBeNull()
    expect(root.querySelector('.app-name')?.textContent).toBe('<img src=x onerror=alert(1)>')
  })
})

describe('the range title, filter and notice', () => {
  it('titles a range, and a month with the way back', () => {
    const root = document.createElement('div')
    const back = vi.fn()
    renderUsageTitle(root, WEEK, { kind: '7d' }, back)
    expect(root.textContent).toBe('8–14 Jul 2026')
    renderUsageTitle(root, { from: '2026-06-01', to: '2026-06-30', by: 'day' }, { kind: 'month', month: '2026-06' }, back)
    expect(root.querySelector('h2')?.textContent).toBe('June 2026')
    root.querySelector('button')?.click()
    expect(back).toHaveBeenCalled()
  })

  it('shows the chosen app with a way back to all apps', () => {
    const root = document.createElement('div')
    const clear = vi.fn()
    renderFilter(root, 'Zoom', '--app-5', clear)
    expect(root.hidden).toBe(false)
    expect(root.textContent).toBe('OnlyZoomAll apps')
    root.querySelector('button')?.click()
    expect(clear).toHaveBeenCalled()
    renderFilter(root, null, '', clear)
    expect(root.hidden).toBe(true)
  })

  it('says where an export went and how many rows it has', () => {
    const root = document.createElement('div')
    const dismiss = vi.fn()
    renderNotice(root, { path: '/Users/me/nbi.csv', rows: 1 }, dismiss)
    expect(root.querySelector('.notice-text')?.textContent).toBe('Exported 1 row to /Users/me/nbi.csv')
    renderNotice(root, { path: '/Users/me/nbi.csv', rows: 41 }, dismiss)
    expect(root.querySelector('.notice-text')?.textContent).toBe('Exported 41 rows to /Users/me/nbi.csv')
    root.querySelector('button')?.click()
    expect(dismiss).toHaveBeenCalled()
    renderNotice(root, null, dismiss)
    expect(root.hidden).toBe(true)
  })
})

describe('the export menu', () => {
  function setup(): { button: HTMLButtonElement; menu: HTMLElement; pick: ReturnType<typeof vi.fn>; m: ExportMenu } {
    document.body.innerHTML = `
      <button id="export">Export…</button>
      <div id="menu" role="menu" hidden>
        <button role="menuitem" data-format="csv">CSV</button>
        <button role="menuitem" data-format="ndjson">NDJSON</button>
      </div>`
    const button = document.getElementById('export') as HTMLButtonElement
    const menu = document.getElementById('menu') as HTMLElement
    const pick = vi.fn()
    return { button, menu, pick, m: new ExportMenu(button, menu, pick) }
  }

  it('opens, picks a format and closes', () => {
    const { button, menu, pick } = setup()
    button.click()
    expect(menu.hidden).toBe(false)
    expect(button.getAttribute('aria-expanded')).toBe('true')
    menu.querySelector<HTMLButtonElement>('[data-format="ndjson"]')?.click()
    expect(pick).toHaveBeenCalledWith('ndjson')
    expect(menu.hidden).toBe(true)
    expect(button.getAttribute('aria-expanded')).toBe('false')
  })

  it('moves with the arrows and closes on Escape', () => {
    const { button, menu, pick } = setup()
    button.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', bubbles: true }))
    expect(menu.hidden).toBe(false)
    expect((document.activeElement as HTMLElement).dataset.format).toBe('csv')
    menu.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', bubbles: true }))
    expect((document.activeElement as HTMLElement).dataset.format).toBe('ndjson')
    menu.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', bubbles: true }))
    expect((document.activeElement as HTMLElement).dataset.format).toBe('csv')
    menu.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }))
    expect(menu.hidden).toBe(true)
    expect(document.activeElement).toBe(button)
    expect(pick).not.toHaveBeenCalled()
  })

  it('is busy while an export runs, and gives the focus back after', () => {
    const { button, m } = setup()
    button.focus()
    m.setBusy(true)
    expect([button.disabled, button.textContent, button.getAttribute('aria-busy')]).toEqual([true, 'Exporting…', 'true'])
    // A disabled button loses the focus.
    button.blur()
    m.setBusy(false)
    expect([button.disabled, button.textContent, button.hasAttribute('aria-busy')]).toEqual([false, 'Export…', false])
    expect(document.activeElement).toBe(button)
  })
})

describe('the destinations of the chosen app', () => {
  const row = (destination: string, address: string, i: number, o: number) => ({
    app: 'Safari',
    destination,
    address,
    org: null,
    country: null,
    host: address === '192.0.2.10' ? 'edge.example.net' : null,
    bytes_in: i * MB,
    bytes_out: o * MB,
  })

  it('is hidden while no app is chosen', () => {
    const root = document.createElement('table')
    renderDestinations(root, null, [row('Example (US)', '192.0.2.1', 1, 1)], '')
    expect(root.hidden).toBe(true)
    expect(root.textContent).toBe('')
  })

  it('lists each destination once, largest first, its addresses on hover', () => {
    const root = document.createElement('table')
    renderDestinations(
      root,
      'Safari',
      [
        row('Example Cloud (US)', '192.0.2.10', 300, 10),
        row('local network', '192.168.1.1', 2, 1),
        row('Example Video (DE)', '198.51.100.20', 900, 5),
        row('Example Cloud (US)', '2001:db8::10', 200, 0),
      ],
      '',
    )
    expect(root.hidden).toBe(false)
    expect(root.querySelector('caption')?.textContent).toBe('Where Safari sent and received')
    expect(cells(root, 'tbody')).toEqual([
      ['Example Video (DE)', '900 MB', '5.0 MB'],
      ['Example Cloud (US)', '500 MB', '10 MB'],
      ['local network', '2.0 MB', '1.0 MB'],
    ])
    expect(root.querySelector('tbody td.destination')?.getAttribute('title')).toBe('198.51.100.20')
    expect(root.querySelector('tfoot')?.textContent).toContain('CC BY 4.0')
    expect(root.querySelectorAll('tbody td.destination')[1]?.getAttribute('title')).toBe('192.0.2.10 (edge.example.net), 2001:db8::10')
  })

  it('sums the destinations beyond the first eight into one row', () => {
    const root = document.createElement('table')
    const many = Array.from({ length: TABLE_DESTINATIONS + 3 }, (_, i) => row(`Org ${i} (US)`, `192.0.2.${i}`, 100 - i, 1))
    renderDestinations(root, 'Safari', many, '')
    const body = cells(root, 'tbody')
    expect(body).toHaveLength(TABLE_DESTINATIONS + 1)
    expect(body[TABLE_DESTINATIONS]).toEqual(['3 more destinations', '273 MB', '3.0 MB'])
  })

  it('says that it counts every network while one network is chosen', () => {
    const root = document.createElement('table')
    renderDestinations(root, 'Safari', [row('Example (US)', '192.0.2.1', 1, 1)], '', true)
    expect(root.querySelector('caption')?.textContent).toBe('Where Safari sent and received, on every network')
  })

  it('says when there are none, and what is happening while it loads', () => {
    const root = document.createElement('table')
    renderDestinations(root, 'Slack', [], 'Loading…')
    expect(cells(root, 'tbody')).toEqual([['No destinations recorded for Slack in this range.']])
    renderDestinations(root, 'Slack', null, 'Loading…')
    expect(cells(root, 'tbody')).toEqual([['Loading…']])
  })
})
