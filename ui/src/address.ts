// What the window shows, in its address, so that a reload (or a link from
// the tray app) opens the same thing: `?day=YYYY-MM-DD` for a past day in
// the Today view, `?view=history&range=7d|30d|12m|YYYY-MM&app=NAME&network=ID`
// for the History view. Anything unreadable falls back to the default.
import type { Day } from './api'
import { dayFromQuery } from './day'
import { DEFAULT_RANGE, rangeFromParam, rangeParam, type Range } from './range'

export type View = 'today' | 'history'

export interface Address {
  /** The Today view's day; null is today. */
  day: Day | null
  view: View
  range: Range
  /** The History view's app filter. */
  app: string | null
  /** The History view's network filter: a network id. */
  network: string | null
}

export function readAddress(search: string): Address {
  const q = new URLSearchParams(search)
  const view: View = q.get('view') === 'history' ? 'history' : 'today'
  const app = q.get('app')
  const network = q.get('network')
  return {
    day: dayFromQuery(search),
    view,
    range: rangeFromParam(q.get('range')),
    app: app === null || app === '' ? null : app,
    network: network === null || network === '' ? null : network,
  }
}

/** The query string for an address, without the "?"; empty for today's Today view. */
export function writeAddress(a: Address): string {
  const q = new URLSearchParams()
  if (a.day !== null) q.set('day', a.day)
  if (a.view === 'history') {
    q.set('view', 'history')
    q.set('range', rangeParam(a.range))
    if (a.app !== null) q.set('app', a.app)
    if (a.network !== null) q.set('network', a.network)
  }
  return q.toString()
}

export const DEFAULT_ADDRESS: Address = { day: null, view: 'today', range: DEFAULT_RANGE, app: null, network: null }
