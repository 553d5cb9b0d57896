import { describe, expect, it } from 'vitest'
import type { DayCurve, TypicalDay } from '../../src/api'
import { alignBand, appColorVar, chartSeries, hourTicks, layerAt, OTHER_APPS, stack } from '../../src/chart'
import { formatClock } from '../../src/format'

describe('stack', () => {
  it('adds the layers up, the first app at the bottom', () => {
    expect(
      stack(
        [
          [1, 2, 3],
          [10, 20, 30],
          [100, 200, 300],
        ],
        3,
      ),
    ).toEqual([
      [1, 2, 3],
      [11, 22, 33],
      [111, 222, 333],
    ])
  })

  it('leaves the future empty instead of drawing zeros', () => {
    expect(
      stack(
        [
          [1, 1, 1, 1],
          [2, 2, 2, 2],
        ],
        4,
        1,
      ),
    ).toEqual([
      [1, 1, null, null],
      [3, 3, null, null],
    ])
  })

  it('reads short arrays as zero traffic', () => {
    expect(stack([[5], [1, 1]], 2)).toEqual([
      [5, 0],
      [6, 1],
    ])
  })

  it('has nothing to stack for a day without apps', () => {
    expect(stack([], 3)).toEqual([])
  })
})

describe('alignBand', () => {
  it('keeps a band already on the curve’s slots', () => {
    expect(alignBand([1, 2, 3], 300, 300, 3)).toEqual([1, 2, 3])
  })

  it('adds minutes up into five-minute slots: bytes grow with the slot', () => {
    const minutes = [1, 1, 1, 1, 1, 2, 2, 2, 2, 2]
    expect(alignBand(minutes, 60, 300, 2)).toEqual([5, 10])
  })

  it('shares a five-minute slot out evenly over its minutes', () => {
    expect(alignBand([50, 100], 300, 60, 10)).toEqual([10, 10, 10, 10, 10, 20, 20, 20, 20, 20])
  })

  it('leaves slots the baseline does not cover empty (a 25-hour day)', () => {
    expect(alignBand([1, 2], 300, 300, 4)).toEqual([1, 2, null, null])
    expect(alignBand([1, 1, 1, 1, 1, 1, 1], 60, 300, 2)).toEqual([5, null])
  })
})

const BERLIN_MIDNIGHT = Date.UTC(2026, 6, 13, 22) / 1000

function curve(over: Partial<DayCurve> = {}): DayCurve {
  return {
    day: '2026-07-14',
    timezone: 'Europe/Berlin',
    start: BERLIN_MIDNIGHT,
    step_s: 300,
    slots: 4,
    now_slot: null,
    apps: [
      { app: 'Slack', bytes_in: [1, 2, 3, 4], bytes_out: [10, 0, 0, 0], total_in: 10, total_out: 10 },
      { app: OTHER_APPS, bytes_in: [5, 5, 5, 5], bytes_out: [1, 1, 1, 1], total_in: 20, total_out: 4 },
    ],
    ...over,
  }
}

function typical(stepS = 300, slots = 4): TypicalDay {
  const n = slots
  return {
    day: '2026-07-14',
    step_s: stepS,
    slots: n,
    baseline_days: 14,
    bytes_in: { low: Array(n).fill(1), mid: Array(n).fill(2), high: Array(n).fill(4) },
    bytes_out: { low: Array(n).fill(10), mid: Array(n).fill(20), high: Array(n).fill(40) },
  }
}

describe('chartSeries', () => {
  it('puts each slot at its time and stacks the chosen direction', () => {
    const s = chartSeries(curve(), typical(), 'in')
    expect(s.xs).toEqual([BERLIN_MIDNIGHT, BERLIN_MIDNIGHT + 300, BERLIN_MIDNIGHT + 600, BERLIN_MIDNIGHT + 900])
    expect(s.apps).toEqual(['Slack', OTHER_APPS])
    expect(s.stacked).toEqual([
      [1, 2, 3, 4],
      [6, 7, 8, 9],
    ])
    expect(s.band?.mid).toEqual([2, 2, 2, 2])
  })

  it('switches both the apps and the band to uploads', () => {
    const s = chartSeries(curve(), typical(), 'out')
    expect(s.stacked[1]).toEqual([11, 1, 1, 1])
    expect(s.raw[0]).toEqual([10, 0, 0, 0])
    expect(s.band?.high).toEqual([40, 40, 40, 40])
  })

  it('scales a one-minute band onto five-minute slots', () => {
    const s = chartSeries(curve({ slots: 1 }), typical(60, 5), 'in')
    expect(s.band).toEqual({ low: [5], mid: [10], high: [20] })
  })

  it('draws no band while learning', () => {
    expect(chartSeries(curve(), { ...typical(), bytes_in: null }, 'in').band).toBeNull()
    expect(chartSeries(curve(), null, 'in').band).toBeNull()
  })

  it('stops today at now', () => {
    expect(chartSeries(curve({ now_slot: 1 }), null, 'in').stacked[1]).toEqual([6, 7, null, null])
  })
})

describe('layerAt', () => {
  const stacked = [
    [1, 0, 3],
    [6, 0, 3],
    [9, 5, null],
  ]

  it('finds the app whose layer holds the pointer', () => {
    expect(layerAt(stacked, 0, 0.5)).toBe(0)
    expect(layerAt(stacked, 0, 1)).toBe(0)
    expect(layerAt(stacked, 0, 4)).toBe(1)
    expect(layerAt(stacked, 0, 8)).toBe(2)
  })

  it('skips apps with nothing in that slot', () => {
    expect(layerAt(stacked, 1, 0.1)).toBe(2)
  })

  it('is nothing above the stack or in the future', () => {
    expect(layerAt(stacked, 0, 9.5)).toBeNull()
    expect(layerAt(stacked, 2, 1)).toBe(0)
    expect(layerAt(stacked, 2, 4)).toBeNull()
  })
})

describe('hourTicks', () => {
  it('labels every sixth local hour', () => {
    const c = curve({ step_s: 60, slots: 1440 })
    expect(hourTicks(c, 6).map((t) => formatClock(t, c.timezone))).toEqual(['00:00', '06:00', '12:00', '18:00'])
  })

  it('stays on whole local hours on a 23-hour day', () => {
    // 29 March 2026: Berlin skips 02:00–03:00.
    const c = curve({ day: '2026-03-29', start: Date.UTC(2026, 2, 28, 23) / 1000, step_s: 300, slots: 276 })
    expect(hourTicks(c, 6).map((t) => formatClock(t, c.timezone))).toEqual(['00:00', '06:00', '12:00', '18:00'])
  })
})

describe('appColorVar', () => {
  it('gives apps palette colors in order and "Other apps" its own grey', () => {
    expect(appColorVar('Slack', 0)).toBe('--app-1')
    expect(appColorVar('Mail', 5)).toBe('--app-6')
    expect(appColorVar('Zoom', 6)).toBe('--app-1')
    expect(appColorVar(OTHER_APPS, 5)).toBe('--app-other')
  })
})
