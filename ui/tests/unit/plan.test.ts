import { describe, expect, it } from 'vitest'
import type { Plan } from '../../src/api'
import { planLevel, planView, renderPlan } from '../../src/plan'

const GB = 1_000_000_000

const plan = (usedGb: number, limitGb = 50, over: Partial<Plan> = {}): Plan => ({
  period_start: '2026-07-01',
  period_end: '2026-07-31',
  used_bytes: usedGb * GB,
  limit_bytes: limitGb * GB,
  ...over,
})

describe('planView', () => {
  it('says how much of the allowance is used, and until when', () => {
    expect(planView(plan(32.1))).toEqual({
      ratio: 32.1 / 50,
      percent: 64,
      level: 'ok',
      text: '32 GB of 50 GB · 64 % · until 31 Jul',
      period: 'Billing period 1–31 Jul 2026',
    })
  })

  it('names a period across a month end', () => {
    const v = planView(plan(1, 50, { period_start: '2026-12-15', period_end: '2027-01-14' }))
    expect(v?.text).toBe('1.0 GB of 50 GB · 2 % · until 14 Jan')
    expect(v?.period).toBe('Billing period 15 Dec 2026 – 14 Jan 2027')
  })

  it('warns from 80 % and alerts once the allowance is used up', () => {
    expect(planView(plan(39.99))).toMatchObject({ percent: 79, level: 'ok' })
    expect(planView(plan(40))).toMatchObject({ percent: 80, level: 'warn' })
    expect(planView(plan(42.5))).toMatchObject({ percent: 85, level: 'warn' })
    expect(planView(plan(49.99))).toMatchObject({ percent: 99, level: 'warn' })
    expect(planView(plan(50))).toMatchObject({ percent: 100, level: 'alert' })
    expect(planView(plan(55))).toMatchObject({ percent: 110, level: 'alert', text: '55 GB of 50 GB · 110 % · until 31 Jul' })
  })

  it('rounds the percent down, so the number never says more than the level', () => {
    // 29 of 100 is 28.999… in floating point: still 29 %.
    expect(planView(plan(29, 100))?.percent).toBe(29)
    expect(planView(plan(0.0001))?.percent).toBe(0)
  })

  it('shows nothing without a plan or with an allowance that cannot be used', () => {
    expect(planView(undefined)).toBeNull()
    expect(planView(null)).toBeNull()
    expect(planView(plan(1, 0))).toBeNull()
    expect(planView(plan(1, -1))).toBeNull()
  })

  it('reads a broken usage as nothing used', () => {
    expect(planView(plan(Number.NaN))?.text).toBe('0 B of 50 GB · 0 % · until 31 Jul')
  })
})

describe('planLevel', () => {
  it.each([
    [0, 'ok'],
    [0.7999, 'ok'],
    [0.8, 'warn'],
    [0.9999, 'warn'],
    [1, 'alert'],
    [3, 'alert'],
  ])('%f → %s', (ratio, level) => {
    expect(planLevel(ratio)).toBe(level)
  })
})

describe('renderPlan', () => {
  it('shows the glance with a meter that stops at full', () => {
    const root = document.createElement('div')
    renderPlan(root, plan(55))
    expect(root.hidden).toBe(false)
    expect(root.dataset.level).toBe('alert')
    expect(root.querySelector('.plan-text')?.textContent).toBe('55 GB of 50 GB · 110 % · until 31 Jul')
    const meter = root.querySelector<HTMLElement>('[role="meter"]')
    expect(meter?.getAttribute('aria-valuenow')).toBe('100')
    expect(meter?.getAttribute('aria-valuetext')).toBe('55 GB of 50 GB · 110 % · until 31 Jul')
    expect(root.querySelector<HTMLElement>('.meter-fill')?.style.width).toBe('100%')
  })

  it('fills the meter as far as the allowance is used', () => {
    const root = document.createElement('div')
    renderPlan(root, plan(32))
    expect(root.querySelector<HTMLElement>('.meter-fill')?.style.width).toBe('64%')
    expect(root.dataset.level).toBe('ok')
  })

  it('hides itself and forgets the old plan when the plan goes away', () => {
    const root = document.createElement('div')
    renderPlan(root, plan(45))
    renderPlan(root, null)
    expect(root.hidden).toBe(true)
    expect(root.dataset.level).toBeUndefined()
    expect(root.childElementCount).toBe(0)
  })
})
