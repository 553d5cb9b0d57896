import { describe, expect, it, vi } from 'vitest'
import { renderApps } from '../../src/apps'
import { renderHistory } from '../../src/history'

describe('top apps', () => {
  it('lists each app with its totals in both directions', () => {
    const root = document.createElement('ul')
    renderApps(root, [
      { app: 'Slack', bytes_in: [], bytes_out: [], total_in: 12_400_000, total_out: 1_200 },
      { app: 'Other apps', bytes_in: [], bytes_out: [], total_in: 0, total_out: 999 },
    ])
    const rows = [...root.querySelectorAll('li')].map((li) => [...li.querySelectorAll('span')].map((s) => s.textContent).slice(1))
    expect(rows).toEqual([
      ['Slack', '↓ 12 MB', '↑ 1.2 kB'],
      ['Other apps', '↓ 0 B', '↑ 999 B'],
    ])
    expect(root.querySelector<HTMLElement>('li:last-child .swatch')?.style.background).toBe('var(--app-other)')
  })

  it('says so when the day had no traffic', () => {
    const root = document.createElement('ul')
    renderApps(root, [])
    expect(root.textContent).toBe('No apps used the network this day.')
  })
})

describe('recent days', () => {
  it('lists verdicts newest first and opens a day on click', () => {
    const root = document.createElement('section')
    const open = vi.fn()
    renderHistory(
      root,
      [
        { day: '2026-07-13', status: 'normal', summary: '', marked_normal: false },
        { day: '2026-07-12', status: 'anomalous', summary: '', marked_normal: true },
      ],
      '2026-07-12',
      open,
    )
    const entries = [...root.querySelectorAll<HTMLButtonElement>('.history-entry')]
    expect(entries.map((e) => e.textContent)).toEqual(['Mon 13 JulNormal', 'Sun 12 JulUnusual, marked normal'])
    expect(entries[1]?.getAttribute('aria-current')).toBe('date')
    entries[1]?.click()
    expect(open).toHaveBeenCalledWith('2026-07-12')
  })

  it('hides itself with nothing to show', () => {
    const root = document.createElement('section')
    renderHistory(root, [], null, vi.fn())
    expect(root.hidden).toBe(true)
  })
})
