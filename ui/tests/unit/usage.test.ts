import { describe, expect, it } from 'vitest'
import type { UsageRow } from '../../src/api'
import { OTHER_APPS } from '../../src/chart'
import { appTotals, assignColors, formatShare, periodLayers, periodTotals, STACKED_APPS } from '../../src/usage'

const MB = 1_000_000

const row = (period: string, app: string, mbIn: number, mbOut: number): UsageRow => ({
  period,
  app,
  bytes_in: mbIn * MB,
  bytes_out: mbOut * MB,
})

// Three days of which the middle one had no traffic at all, as usage_history
// sends them: by period, then by bytes descending.
const ROWS: UsageRow[] = [
  row('2026-07-12', 'Transmission', 4000, 2000),
  row('2026-07-12', 'Safari', 300, 20),
  row('2026-07-12', 'Mail', 50, 10),
  row('2026-07-14', 'Slack', 400, 100),
  row('2026-07-14', 'Safari', 300, 20),
  row('2026-07-14', 'Mail', 50, 10),
]
const PERIODS = ['2026-07-12', '2026-07-13', '2026-07-14']

describe('appTotals', () => {
  it('adds each app up over the range, most traffic first, with its share of everything', () => {
    const t = appTotals(ROWS)
    expect(t.apps.map((a) => [a.app, a.bytes_in / MB, a.bytes_out / MB, a.total / MB])).toEqual([
      ['Transmission', 4000, 2000, 6000],
      ['Safari', 600, 40, 640],
      ['Slack', 400, 100, 500],
      ['Mail', 100, 20, 120],
    ])
    expect([t.bytes_in / MB, t.bytes_out / MB, t.total / MB]).toEqual([5100, 2160, 7260])
    expect(t.apps.map((a) => a.share)).toEqual([6000 / 7260, 640 / 7260, 500 / 7260, 120 / 7260])
    expect(t.apps.reduce((s, a) => s + a.share, 0)).toBeCloseTo(1, 12)
  })

  it('orders equal totals by name, whatever order the rows came in', () => {
    const t = appTotals([row('2026-07-14', 'Zoom', 1, 1), row('2026-07-14', 'Arc', 2, 0)])
    expect(t.apps.map((a) => a.app)).toEqual(['Arc', 'Zoom'])
  })

  it('has nothing, and no share to divide, for a range without traffic', () => {
    expect(appTotals([])).toEqual({ apps: [], bytes_in: 0, bytes_out: 0, total: 0 })
    const t = appTotals([row('2026-07-14', 'Idle', 0, 0)])
    expect(t.apps[0]?.share).toBe(0)
  })

  it('reads negative or broken byte counts as nothing', () => {
    const t = appTotals([{ period: '2026-07-14', app: 'X', bytes_in: -5, bytes_out: Number.NaN }])
    expect(t.total).toBe(0)
  })
})

describe('formatShare', () => {
  it.each([
    [6000 / 7260, '83 %'],
    [0.0995, '10 %'],
    [0.0994, '9.9 %'],
    [0.044, '4.4 %'],
    [0.004, '0.4 %'],
    [0.0004, '<0.1 %'],
    [0, '0 %'],
    [1, '100 %'],
  ])('%f → %s', (share, text) => {
    expect(formatShare(share)).toBe(text)
  })
})

describe('assignColors', () => {
  it('keeps the Today view’s colors and gives the others the free ones, unused ones first', () => {
    // Today shows Slack, Safari, Transmission, Mail and "Other apps"; Mail is
    // not among the range's top apps, so its color is handed out last.
    const today = ['Slack', 'Safari', 'Transmission', 'Mail', OTHER_APPS]
    const colors = assignColors(['Transmission', 'Zoom', 'Safari', 'Spotify', 'Slack', 'Dropbox'], today)
    expect(Object.fromEntries(colors)).toEqual({
      Transmission: '--app-3',
      Safari: '--app-2',
      Slack: '--app-1',
      Zoom: '--app-5',
      Spotify: '--app-6',
      Dropbox: '--app-4',
    })
  })

  it('gives each app a color of its own when the Today view repeats one', () => {
    // The seventh app of a day wraps around to the first color.
    const today = ['A', 'B', 'C', 'D', 'E', 'F', 'G']
    const colors = assignColors(['G', 'A'], today)
    expect(colors.get('G')).toBe('--app-1')
    expect(colors.get('A')).toBe('--app-2')
  })

  it('colors in rank order without a Today view to follow', () => {
    expect([...assignColors(['X', 'Y'], []).values()]).toEqual(['--app-1', '--app-2'])
  })

  it('never hands "Other apps" color to an app', () => {
    const ranked = Array.from({ length: STACKED_APPS }, (_, i) => `App ${i}`)
    expect([...assignColors(ranked, [OTHER_APPS]).values()]).not.toContain('--app-other')
  })
})

describe('periodLayers', () => {
  const colors = new Map([
    ['Transmission', '--app-3'],
    ['Safari', '--app-2'],
  ])

  it('stacks the top apps per period and sums the rest as "Other apps", empty days as zero', () => {
    const layers = periodLayers(ROWS, PERIODS, 'in', ['Transmission', 'Safari'], colors)
    expect(layers.map((l) => [l.app, l.color, l.values.map((v) => v / MB)])).toEqual([
      ['Transmission', '--app-3', [4000, 0, 0]],
      ['Safari', '--app-2', [300, 0, 300]],
      [OTHER_APPS, '--app-other', [50, 0, 450]],
    ])
    expect(periodTotals(layers, 3).map((v) => v / MB)).toEqual([4350, 0, 750])
  })

  it('draws uploads when asked', () => {
    const layers = periodLayers(ROWS, PERIODS, 'out', ['Transmission', 'Safari'], colors)
    expect(layers.map((l) => l.values.map((v) => v / MB))).toEqual([
      [2000, 0, 0],
      [20, 0, 20],
      [10, 0, 110],
    ])
  })

  it('has no "Other apps" layer when every app is drawn on its own', () => {
    const layers = periodLayers(ROWS, PERIODS, 'in', ['Transmission', 'Safari', 'Slack', 'Mail'], colors)
    expect(layers.map((l) => l.app)).toEqual(['Transmission', 'Safari', 'Slack', 'Mail'])
    // An app without a color of its own is drawn in the "Other apps" grey.
    expect(layers[2]?.color).toBe('--app-other')
  })

  it('keeps a top app that had nothing in the range as an empty layer', () => {
    const layers = periodLayers([], PERIODS, 'in', ['Slack'], colors)
    expect(layers).toEqual([{ app: 'Slack', color: '--app-other', values: [0, 0, 0] }])
  })

  it('adds months up under their YYYY-MM names and ignores rows outside the periods', () => {
    const rows = [row('2026-05', 'Slack', 1, 0), row('2026-06', 'Slack', 2, 0), row('2026-07', 'Slack', 3, 0)]
    const layers = periodLayers(rows, ['2026-06', '2026-07'], 'in', ['Slack'], colors)
    expect(layers[0]?.values.map((v) => v / MB)).toEqual([2, 3])
  })
})
