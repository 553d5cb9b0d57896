import { describe, expect, it } from 'vitest'
import { explanationLine, formatClock, formatDay, humanBytes, plural } from '../../src/format'

describe('humanBytes', () => {
  it.each([
    [0, '0 B'],
    [1, '1 B'],
    [999, '999 B'],
    [1_200, '1.2 kB'],
    [1_234, '1.2 kB'],
    [9_940, '9.9 kB'],
    [9_960, '10 kB'],
    [12_400_000, '12 MB'],
    [84_000_000, '84 MB'],
    [595_000, '595 kB'],
    [2_100_000_000, '2.1 GB'],
    [30_000_000_000, '30 GB'],
    [1_000_000_000_000, '1.0 TB'],
  ])('%d bytes → %s', (n, text) => {
    expect(humanBytes(n)).toBe(text)
  })

  it('rolls over to the next unit instead of printing 1000', () => {
    expect(humanBytes(999_499)).toBe('999 kB')
    expect(humanBytes(999_500)).toBe('1.0 MB')
  })

  it('writes byte counts as whole numbers, even from a fractional typical value', () => {
    expect(humanBytes(12.6)).toBe('13 B')
  })

  it('treats nothing, negatives and NaN as zero', () => {
    expect(humanBytes(-5)).toBe('0 B')
    expect(humanBytes(Number.NaN)).toBe('0 B')
  })

  it('stops at petabytes', () => {
    expect(humanBytes(18_447_000_000_000_000_000)).toBe('18447 PB')
  })
})

describe('explanationLine', () => {
  it('names the app, the hours and both amounts', () => {
    expect(
      explanationLine({ app: 'Transmission', from_hour: 3, to_hour: 4, bytes: 30_000_000_000, typical_bytes: 595_000 }),
    ).toBe('Transmission 03:00–04:00: 30 GB, typically 595 kB')
  })

  it('ends the last hour of the day at 24:00', () => {
    expect(explanationLine({ app: 'Slack', from_hour: 22, to_hour: 24, bytes: 20_000_000, typical_bytes: 6_000_000 })).toBe(
      'Slack 22:00–24:00: 20 MB, typically 6.0 MB',
    )
  })

  it('says an upload is one', () => {
    expect(
      explanationLine({
        app: 'Google Chrome',
        from_hour: 20,
        to_hour: 21,
        bytes: 2_000_000_000,
        typical_bytes: 33_000_000,
        direction: 'upload',
      }),
    ).toBe('Google Chrome 20:00–21:00: uploaded 2.0 GB, typically 33 MB')
  })

  it('names where most of the bytes went, and what is new', () => {
    const dropbox = { destination: 'Dropbox, Inc. (US)', org: 'Dropbox, Inc.', country: 'US', bytes_in: 0, bytes_out: 2_000_000_000 }
    const run = { app: 'Google Chrome', from_hour: 3, to_hour: 4, bytes: 2_000_000_000, typical_bytes: 33_000_000 }
    expect(explanationLine({ ...run, direction: 'upload', destinations: [dropbox] })).toBe(
      'Google Chrome 03:00–04:00: uploaded 2.0 GB to Dropbox, Inc. (US), typically 33 MB',
    )
    const video = { ...dropbox, destination: 'Example Video (US)', bytes_in: 2_000_000_000, bytes_out: 1_000 }
    expect(explanationLine({ ...run, destinations: [video] })).toBe(
      'Google Chrome 03:00–04:00: 2.0 GB from Example Video (US), typically 33 MB',
    )
    expect(explanationLine({ ...run, direction: 'upload', new: 'destination', destinations: [dropbox] })).toBe(
      'new destination for Google Chrome 03:00–04:00: 2.0 GB uploaded to Dropbox, Inc. (US)',
    )
    expect(explanationLine({ ...run, app: 'Transmission', typical_bytes: 0, new: 'app' })).toBe(
      'new app Transmission 03:00–04:00: 2.0 GB',
    )
  })

  it('writes a typical nothing as 0 B', () => {
    expect(explanationLine({ app: 'Netflix', from_hour: 0, to_hour: 2, bytes: 4_100_000_000, typical_bytes: 0 })).toBe(
      'Netflix 00:00–02:00: 4.1 GB, typically 0 B',
    )
  })
})

describe('formatDay', () => {
  it('names the weekday the way the backend summaries do', () => {
    expect(formatDay('2026-07-14')).toBe('Tue 14 Jul')
    expect(formatDay('2024-02-29', true)).toBe('Thu 29 Feb 2024')
  })
})

describe('formatClock', () => {
  it('shows the time in the day’s own zone', () => {
    const t = Date.UTC(2026, 6, 14, 13, 31) / 1000
    expect(formatClock(t, 'UTC')).toBe('13:31')
    expect(formatClock(t, 'Europe/Berlin')).toBe('15:31')
    expect(formatClock(t, 'America/New_York')).toBe('09:31')
  })

  it('falls back to the local zone for a zone it does not know', () => {
    expect(formatClock(0, 'Not/A_Zone')).toMatch(/^\d\d:\d\d$/)
  })
})

describe('plural', () => {
  it('counts', () => {
    expect(plural(1, 'hour')).toBe('1 hour')
    expect(plural(14, 'hour')).toBe('14 hours')
    expect(plural(2, 'day off', 'days off')).toBe('2 days off')
  })
})
