import { describe, expect, it } from 'vitest'
import type { Plan } from '../../src/api'
import { otherPlans, planLevel, planView, renderPlan } from '../../src/plan'

const GB = 1_000_000_000

const plan = (usedGb: number, limitGb = 50, over: Partial<Plan> = {}): Plan => ({
  period_start: '2026-07-01',
  period_end: '2026-07-31',
  used_bytes: usedGb * GB,
  limit_bytes: limitGb * GB,
  name: 'Data plan',
  networks: [],
  metered: false,
  all_networks: true,
  ...over,
})

describe('planView', () => {
  it('says how much of the allowance is used, and until when', () => {
    expect(planView(plan(32.1))).toEqual({
      name: 'Data plan',
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

describe('several plans', () => {
  const phone = plan(4.2, 10, { name: 'Phone', networks: ['wifi:iPhone'], metered: true, all_networks: false })
  const home = plan(120, 1000, { name: 'Home', networks: ['wifi:Home'], all_networks: false })
  const travel = plan(9, 10, { name: 'Travel', networks: [], metered: true, all_networks: false })

  it('names the plan shown', () => {
    expect(planView(phone)).toMatchObject({ name: 'Phone', text: '4.2 GB of 10 GB · 42 % · until 31 Jul' })
    expect(planView(plan(1, 50, { name: '  ' }))?.name).toBe('Data plan')
  })

  it('lists the other plans in configuration order, without the one shown', () => {
    expect(otherPlans([home, phone, travel], phone)).toEqual([home, travel])
    expect(otherPlans([phone], phone)).toEqual([])
    expect(otherPlans([home, phone], null)).toEqual([])
    expect(otherPlans(undefined, phone)).toEqual([])
    // Two answers of one status: equal, not the same object.
    expect(otherPlans([home, { ...phone }], { ...phone })).toEqual([home])
  })

  it('shows the plan of the network in use with its meter, and the others below in smaller text', () => {
    const root = document.createElement('div')
    renderPlan(root, phone, [home, phone, travel])
    expect(root.querySelector('.plan-line .plan-label')?.textContent).toBe('Phone')
    expect(root.querySelector('.plan-line .plan-text')?.textContent).toBe('4.2 GB of 10 GB · 42 % · until 31 Jul')
    expect(root.querySelectorAll('[role="meter"]')).toHaveLength(1)
    expect(root.dataset.level).toBe('ok')
    const others = [...root.querySelectorAll('.plan-others li')]
    expect(others.map((li) => [li.querySelector('.plan-label')?.textContent, li.querySelector('.plan-text')?.textContent])).toEqual([
      ['Home', '120 GB of 1.0 TB · 12 % · until 31 Jul'],
      ['Travel', '9.0 GB of 10 GB · 90 % · until 31 Jul'],
    ])
    expect(others.map((li) => li.getAttribute('data-level'))).toEqual(['ok', 'warn'])
    expect(root.querySelector('.plan-others')?.getAttribute('aria-label')).toBe('Other data plans')
  })

  it('lists nothing more with one plan, and nothing at all without a plan', () => {
    const root = document.createElement('div')
    renderPlan(root, phone, [phone])
    expect(root.querySelector('.plan-others')).toBeNull()
    renderPlan(root, null, [])
    expect(root.hidden).toBe(true)
    expect(root.textContent).toBe('')
  })

  it('writes plan names as text', () => {
    const root = document.createElement('div')
    const evil = plan(1, 10, { name: '<img src=x onerror=alert(1)>' })
    renderPlan(root, phone, [phone, evil])
    renderPlan(root, evil, [evil, phone])
    expect(root.querySelector('img')).toBeNull()
    expect(root.querySelector('.plan-label')?.textContent).toBe('<img src=x onerror=alert(1)>')
  })
})
