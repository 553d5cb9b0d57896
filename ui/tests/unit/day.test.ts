import { describe, expect, it } from 'vitest'
import { addDays, dayFromQuery, isDay, localToday, stepDay } from '../../src/day'

describe('addDays', () => {
  it.each([
    ['2026-07-14', 1, '2026-07-15'],
    ['2026-07-14', -1, '2026-07-13'],
    ['2026-01-31', 1, '2026-02-01'],
    ['2026-03-01', -1, '2026-02-28'],
    ['2024-03-01', -1, '2024-02-29'],
    ['2024-02-28', 1, '2024-02-29'],
    ['2100-02-28', 1, '2100-03-01'],
    ['2000-02-28', 1, '2000-02-29'],
    ['2026-12-31', 1, '2027-01-01'],
    ['2027-01-01', -1, '2026-12-31'],
    ['2026-04-30', 1, '2026-05-01'],
    ['2026-07-14', -14, '2026-06-30'],
    ['2026-07-14', 0, '2026-07-14'],
  ])('%s %+d → %s', (day, n, want) => {
    expect(addDays(day, n)).toBe(want)
  })

  it('is not moved by daylight saving changes', () => {
    // Europe and the US change clocks on these days; a calendar day must not care.
    expect(addDays('2026-03-29', 1)).toBe('2026-03-30')
    expect(addDays('2026-10-25', -1)).toBe('2026-10-24')
    expect(addDays('2026-03-08', 1)).toBe('2026-03-09')
  })
})

describe('isDay', () => {
  it('accepts real dates only', () => {
    expect(isDay('2026-07-14')).toBe(true)
    expect(isDay('2024-02-29')).toBe(true)
    expect(isDay('2026-02-29')).toBe(false)
    expect(isDay('2026-13-01')).toBe(false)
    expect(isDay('2026-7-14')).toBe(false)
    expect(isDay('today')).toBe(false)
    expect(isDay('2026-07-14T00:00')).toBe(false)
  })
})

describe('stepDay', () => {
  const today = '2026-03-01'

  it('goes back from today across a month end', () => {
    expect(stepDay(null, -1, today)).toBe('2026-02-28')
  })

  it('goes forward and lands on "today" rather than a fixed date', () => {
    expect(stepDay('2026-02-28', 1, today)).toBeNull()
  })

  it('never goes past today', () => {
    expect(stepDay(null, 1, today)).toBeNull()
    expect(stepDay('2026-02-27', 5, today)).toBeNull()
  })

  it('moves between past days across a year end', () => {
    expect(stepDay('2026-01-01', -1, today)).toBe('2025-12-31')
    expect(stepDay('2025-12-31', 1, today)).toBe('2026-01-01')
  })
})

describe('dayFromQuery', () => {
  it('reads ?day=', () => {
    expect(dayFromQuery('?day=2026-07-10')).toBe('2026-07-10')
    expect(dayFromQuery('?x=1&day=2026-07-10')).toBe('2026-07-10')
  })

  it('ignores a missing or broken day', () => {
    expect(dayFromQuery('')).toBeNull()
    expect(dayFromQuery('?day=')).toBeNull()
    expect(dayFromQuery('?day=2026-02-30')).toBeNull()
    expect(dayFromQuery('?day=yesterday')).toBeNull()
  })
})

describe('localToday', () => {
  it('is the local calendar date', () => {
    expect(localToday(new Date(2026, 0, 31, 23, 59))).toBe('2026-01-31')
    expect(localToday(new Date(2026, 1, 1, 0, 0))).toBe('2026-02-01')
  })
})
