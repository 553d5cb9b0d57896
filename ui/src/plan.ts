// The data plan at a glance, under the status line: how much of the billing
// period's allowance is used, with a meter that turns amber at 80 % and red
// once the allowance is used up. The plan shown is the one that counts the
// network in use (the backend picks it); any other plans are listed below it
// in smaller text. Nothing at all without a plan.
import type { Plan } from './api'
import { fill, h } from './dom'
import { humanBytes } from './format'
import { formatDate, spanLabel } from './range'

export type PlanLevel = 'ok' | 'warn' | 'alert'

/** From this share of the allowance on, the glance warns. */
export const WARN_AT = 0.8

/** What a plan without a name of its own is called (the backend's name for an older single `[plan]`). */
export const DEFAULT_PLAN_NAME = 'Data plan'

export interface PlanView {
  /** The plan's name: "Phone", or "Data plan". */
  name: string
  /** Used over allowed; above 1 once over the limit. */
  ratio: number
  /** Whole percent, rounded down: 79.9 % is not yet 80 %. */
  percent: number
  level: PlanLevel
  /** "32 GB of 50 GB · 64 % · until 31 Jul" */
  text: string
  /** "Billing period 1–31 Jul 2026" */
  period: string
}

export function planLevel(ratio: number): PlanLevel {
  return ratio >= 1 ? 'alert' : ratio >= WARN_AT ? 'warn' : 'ok'
}

/** What the glance says; null when there is no plan, or none that can be read. */
export function planView(plan: Plan | null | undefined): PlanView | null {
  if (!plan || !(plan.limit_bytes > 0)) return null
  const used = Math.max(0, Number.isFinite(plan.used_bytes) ? plan.used_bytes : 0)
  const ratio = used / plan.limit_bytes
  // Rounded down so that the number and the level never disagree. The small
  // epsilon keeps 0.29 * 100 = 28.999… at 29.
  const percent = Math.floor(ratio * 100 + 1e-9)
  return {
    name: (plan.name ?? '').trim() || DEFAULT_PLAN_NAME,
    ratio,
    percent,
    level: planLevel(ratio),
    text: `${humanBytes(used)} of ${humanBytes(plan.limit_bytes)} · ${percent} % · until ${formatDate(plan.period_end)}`,
    period: `Billing period ${spanLabel({ from: plan.period_start, to: plan.period_end, by: 'day' })}`,
  }
}

const samePlan = (a: Plan, b: Plan): boolean =>
  a.name === b.name && a.period_start === b.period_start && a.period_end === b.period_end && a.limit_bytes === b.limit_bytes

/** The plans besides the one shown, in configuration order; none without a plan shown. */
export function otherPlans(plans: readonly Plan[] | null | undefined, shown: Plan | null | undefined): Plan[] {
  if (!shown || !plans) return []
  const at = plans.findIndex((p) => samePlan(p, shown))
  return plans.filter((_, i) => i !== at)
}

/**
 * The glance: `plan` (the backend's plan for the network in use) named, with
 * its meter; the rest of `plans` below it, one small line each.
 */
export function renderPlan(root: HTMLElement, plan: Plan | null | undefined, plans: readonly Plan[] = []): void {
  const view = planView(plan)
  root.hidden = view === null
  if (!view) {
    delete root.dataset.level
    fill(root)
    return
  }
  root.dataset.level = view.level
  const others = otherPlans(plans, plan)
    .map(planView)
    .filter((v): v is PlanView => v !== null)
  const bar = h('span', { class: 'meter-fill' })
  bar.style.width = `${Math.min(100, view.ratio * 100)}%`
  fill(
    root,
    h(
      'span',
      { class: 'plan-line', title: view.period },
      h('span', { class: 'plan-label' }, view.name),
      h('span', { class: 'plan-text' }, view.text),
    ),
    h(
      'span',
      {
        class: 'meter',
        attrs: {
          role: 'meter',
          'aria-label': 'Data plan used',
          'aria-valuemin': '0',
          'aria-valuemax': '100',
          'aria-valuenow': String(Math.min(100, view.percent)),
          'aria-valuetext': view.text,
        },
      },
      bar,
    ),
    others.length
      ? h(
          'ul',
          { class: 'plan-others', attrs: { 'aria-label': 'Other data plans' } },
          ...others.map((o) =>
            h(
              'li',
              { title: o.period, attrs: { 'data-level': o.level } },
              h('span', { class: 'plan-label' }, o.name),
              h('span', { class: 'plan-text' }, o.text),
            ),
          ),
        )
      : null,
  )
}
