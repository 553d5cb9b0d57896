import { describe, expect, it } from 'vitest'
import { barSeries, barTip, type BarsModel } from '../../src/bars'
import { OTHER_APPS } from '../../src/chart'

const MB = 1_000_000

const model = (over: Partial<BarsModel> = {}): BarsModel => ({
  periods: ['2026-07-12', '2026-07-13', '2026-07-14'],
  by: 'day',
  layers: [
    { app: 'Transmission', color: '--app-3', values: [4000 * MB, 0, 0] },
    { app: 'Safari', color: '--app-2', values: [300 * MB, 0, 300 * MB] },
    { app: OTHER_APPS, color: '--app-other', values: [100 * MB, 0, 450 * MB] },
  ],
  emptyText: 'No traffic in these days.',
  ...over,
})

describe('barSeries', () => {
  it('puts bar i at i and stacks the layers, the first at the bottom', () => {
    const s = barSeries(model())
    expect(s.xs).toEqual([0, 1, 2])
    expect(s.stacked.map((r) => r.map((v) => v / MB))).toEqual([
      [4000, 0, 0],
      [4300, 0, 300],
      [4400, 0, 750],
    ])
    expect(s.totals.map((v) => v / MB)).toEqual([4400, 0, 750])
  })

  it('has bars of nothing, not no bars, for a range without layers', () => {
    const s = barSeries(model({ layers: [] }))
    expect(s.xs).toEqual([0, 1, 2])
    expect(s.stacked).toEqual([])
    expect(s.totals).toEqual([0, 0, 0])
  })
})

describe('barTip', () => {
  const m = model()
  const s = barSeries(m)

  it('names the period, the app under the pointer and the bar’s total', () => {
    expect(barTip(m, s, 0, 0)).toEqual(['Sun 12 Jul', 'Transmission 4.0 GB', 'All apps 4.4 GB', 'Click to open the day'])
    expect(barTip(m, s, 2, 2)).toEqual(['Tue 14 Jul', `${OTHER_APPS} 450 MB`, 'All apps 750 MB', 'Click to open the day'])
  })

  it('gives the total alone above the stack', () => {
    expect(barTip(m, s, 2, null)).toEqual(['Tue 14 Jul', 'All apps 750 MB', 'Click to open the day'])
  })

  it('says so for a day without traffic', () => {
    expect(barTip(m, s, 1, null)).toEqual(['Mon 13 Jul', 'No traffic', 'Click to open the day'])
  })

  it('names the one app of a filtered chart instead of "All apps"', () => {
    const one = model({ layers: [{ app: 'Zoom', color: '--app-5', values: [0, 200 * MB, 200 * MB] }] })
    const so = barSeries(one)
    expect(barTip(one, so, 1, 0)).toEqual(['Mon 13 Jul', 'Zoom 200 MB', 'Click to open the day'])
    expect(barTip(one, so, 1, null)).toEqual(['Mon 13 Jul', 'Zoom 200 MB', 'Click to open the day'])
  })

  it('offers a month’s days', () => {
    const months = model({ periods: ['2026-06', '2026-07', '2026-08'], by: 'month' })
    expect(barTip(months, barSeries(months), 0, null)).toEqual(['June 2026', 'All apps 4.4 GB', 'Click for its days'])
  })
})
