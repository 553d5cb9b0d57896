import { describe, expect, it } from 'vitest'
import {
  addMonths,
  axisLabel,
  isMonth,
  labelEvery,
  labelledBars,
  lastDayOf,
  periodLabel,
  periodsOf,
  rangeFromParam,
  rangeParam,
  spanLabel,
  spanOf,
} from '../../src/range'

// "Today" is always given: nothing here may depend on the machine's clock or zone.
const TODAY = '2026-07-14'

describe('addMonths and lastDayOf', () => {
  it.each([
    ['2026-07', 1, '2026-08'],
    ['2026-12', 1, '2027-01'],
    ['2026-01', -1, '2025-12'],
    ['2026-07', -11, '2025-08'],
    ['2026-02', -14, '2024-12'],
    ['2026-07', 0, '2026-07'],
  ])('%s %+d → %s', (month, n, want) => {
    expect(addMonths(month, n)).toBe(want)
  })

  it.each([
    ['2026-01', '2026-01-31'],
    ['2026-02', '2026-02-28'],
    ['2024-02', '2024-02-29'],
    ['2100-02', '2100-02-28'],
    ['2000-02', '2000-02-29'],
    ['2026-04', '2026-04-30'],
    ['2026-12', '2026-12-31'],
  ])('%s ends on %s', (month, want) => {
    expect(lastDayOf(month)).toBe(want)
  })

  it('knows a month when it sees one', () => {
    expect(isMonth('2026-07')).toBe(true)
    expect(isMonth('2026-13')).toBe(false)
    expect(isMonth('2026-00')).toBe(false)
    expect(isMonth('2026-7')).toBe(false)
    expect(isMonth('2026-07-01')).toBe(false)
  })
})

describe('spanOf', () => {
  it('ends the day ranges today, today included', () => {
    expect(spanOf({ kind: '7d' }, TODAY)).toEqual({ from: '2026-07-08', to: TODAY, by: 'day' })
    expect(spanOf({ kind: '30d' }, TODAY)).toEqual({ from: '2026-06-15', to: TODAY, by: 'day' })
  })

  it('crosses month and year ends', () => {
    expect(spanOf({ kind: '7d' }, '2026-03-02')).toEqual({ from: '2026-02-24', to: '2026-03-02', by: 'day' })
    expect(spanOf({ kind: '30d' }, '2026-01-10')).toEqual({ from: '2025-12-12', to: '2026-01-10', by: 'day' })
    expect(spanOf({ kind: '7d' }, '2024-03-03')).toEqual({ from: '2024-02-26', to: '2024-03-03', by: 'day' })
  })

  it('takes twelve months by month, from the first of the month eleven months back', () => {
    expect(spanOf({ kind: '12m' }, TODAY)).toEqual({ from: '2025-08-01', to: TODAY, by: 'month' })
    expect(spanOf({ kind: '12m' }, '2026-12-31')).toEqual({ from: '2026-01-01', to: '2026-12-31', by: 'month' })
    expect(spanOf({ kind: '12m' }, '2026-01-01')).toEqual({ from: '2025-02-01', to: '2026-01-01', by: 'month' })
  })

  it('takes a past month whole, the current one up to today, and no month in the future', () => {
    expect(spanOf({ kind: 'month', month: '2026-06' }, TODAY)).toEqual({ from: '2026-06-01', to: '2026-06-30', by: 'day' })
    expect(spanOf({ kind: 'month', month: '2024-02' }, TODAY)).toEqual({ from: '2024-02-01', to: '2024-02-29', by: 'day' })
    expect(spanOf({ kind: 'month', month: '2026-07' }, TODAY)).toEqual({ from: '2026-07-01', to: TODAY, by: 'day' })
    expect(spanOf({ kind: 'month', month: '2027-03' }, TODAY)).toEqual({ from: '2026-07-01', to: TODAY, by: 'day' })
  })
})

describe('periodsOf', () => {
  it('lists every day, whether or not it had traffic', () => {
    expect(periodsOf({ from: '2026-07-08', to: '2026-07-14', by: 'day' })).toEqual([
      '2026-07-08',
      '2026-07-09',
      '2026-07-10',
      '2026-07-11',
      '2026-07-12',
      '2026-07-13',
      '2026-07-14',
    ])
  })

  it('crosses month ends, leap days and the year end', () => {
    expect(periodsOf({ from: '2024-02-27', to: '2024-03-02', by: 'day' })).toEqual([
      '2024-02-27',
      '2024-02-28',
      '2024-02-29',
      '2024-03-01',
      '2024-03-02',
    ])
    expect(periodsOf({ from: '2025-12-30', to: '2026-01-02', by: 'day' })).toEqual([
      '2025-12-30',
      '2025-12-31',
      '2026-01-01',
      '2026-01-02',
    ])
  })

  it('has 30 days in the 30-day range and the month’s days in a month', () => {
    const thirty = periodsOf(spanOf({ kind: '30d' }, TODAY))
    expect(thirty).toHaveLength(30)
    expect([thirty[0], thirty[29]]).toEqual(['2026-06-15', TODAY])
    expect(periodsOf(spanOf({ kind: 'month', month: '2026-02' }, TODAY))).toHaveLength(28)
    expect(periodsOf(spanOf({ kind: 'month', month: '2026-07' }, TODAY))).toHaveLength(14)
  })

  it('lists twelve months, across the year end, by their YYYY-MM names', () => {
    expect(periodsOf(spanOf({ kind: '12m' }, TODAY))).toEqual([
      '2025-08',
      '2025-09',
      '2025-10',
      '2025-11',
      '2025-12',
      '2026-01',
      '2026-02',
      '2026-03',
      '2026-04',
      '2026-05',
      '2026-06',
      '2026-07',
    ])
  })

  it('counts a month once even when the span starts or ends mid-month', () => {
    expect(periodsOf({ from: '2026-01-31', to: '2026-03-01', by: 'month' })).toEqual(['2026-01', '2026-02', '2026-03'])
  })

  it('is empty for a span that ends before it starts', () => {
    expect(periodsOf({ from: '2026-07-14', to: '2026-07-13', by: 'day' })).toEqual([])
  })
})

describe('the address', () => {
  it('reads ranges and months, and falls back to 7 days', () => {
    expect(rangeFromParam('30d')).toEqual({ kind: '30d' })
    expect(rangeFromParam('12m')).toEqual({ kind: '12m' })
    expect(rangeFromParam('2026-06')).toEqual({ kind: 'month', month: '2026-06' })
    expect(rangeFromParam(null)).toEqual({ kind: '7d' })
    expect(rangeFromParam('2026-13')).toEqual({ kind: '7d' })
    expect(rangeFromParam('year')).toEqual({ kind: '7d' })
  })

  it('writes what it reads', () => {
    for (const p of ['7d', '30d', '12m', '2025-11']) expect(rangeParam(rangeFromParam(p))).toBe(p)
  })
})

describe('labels', () => {
  it('names a span the short way', () => {
    expect(spanLabel({ from: '2026-07-08', to: '2026-07-14', by: 'day' })).toBe('8–14 Jul 2026')
    expect(spanLabel({ from: '2026-06-15', to: '2026-07-14', by: 'day' })).toBe('15 Jun – 14 Jul 2026')
    expect(spanLabel({ from: '2025-12-20', to: '2026-01-18', by: 'day' })).toBe('20 Dec 2025 – 18 Jan 2026')
    expect(spanLabel({ from: '2026-07-14', to: '2026-07-14', by: 'day' })).toBe('14 Jul 2026')
    expect(spanLabel({ from: '2025-08-01', to: '2026-07-14', by: 'month' })).toBe('Aug 2025 – Jul 2026')
    expect(spanLabel({ from: '2026-06-01', to: '2026-06-30', by: 'month' })).toBe('June 2026')
  })

  it('names periods for the tooltip and the axis', () => {
    expect(periodLabel('2026-07-12', 'day')).toBe('Sun 12 Jul')
    expect(periodLabel('2026-06', 'month')).toBe('June 2026')
    expect(axisLabel('2026-07-12', 'day', true)).toBe('Sun\n12')
    expect(axisLabel('2026-07-12', 'day', false)).toBe('12 Jul')
    expect(axisLabel('2025-12', 'month', true)).toBe('Dec')
  })

  it('labels bars counting back from the newest', () => {
    expect(labelledBars(7, 1)).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(labelledBars(30, 7)).toEqual([1, 8, 15, 22, 29])
    expect(labelledBars(12, 2)).toEqual([1, 3, 5, 7, 9, 11])
    expect(labelledBars(0, 7)).toEqual([])
  })

  it('spaces labels so that they do not overlap', () => {
    // 7 days in the 360 px window: a weekday over each date.
    expect(labelEvery('day', 41)).toBe(1)
    // 30 days in a wide window, then in the small one.
    expect(labelEvery('day', 25)).toBe(2)
    expect(labelEvery('day', 9.7)).toBe(7)
    expect(labelEvery('day', 2)).toBe(28)
    expect(labelEvery('month', 24)).toBe(2)
    expect(labelEvery('month', 60)).toBe(1)
    expect(labelEvery('month', 4)).toBe(12)
  })
})
