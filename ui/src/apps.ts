// The day's top apps with their totals; the color swatches double as the
// chart's legend.
import type { AppCurve } from './api'
import { appColorVar } from './chart'
import { fill, h } from './dom'
import { humanBytes } from './format'

export function renderApps(root: HTMLElement, apps: AppCurve[]): void {
  if (!apps.length) {
    fill(root, h('li', { class: 'muted' }, 'No apps used the network this day.'))
    return
  }
  fill(
    root,
    ...apps.map((a, i) => {
      const swatch = h('span', { class: 'swatch', attrs: { 'aria-hidden': 'true' } })
      swatch.style.background = `var(${appColorVar(a.app, i)})`
      return h(
        'li',
        { attrs: { 'data-app': a.app } },
        swatch,
        h('span', { class: 'app-name', title: a.app }, a.app),
        h('span', { class: 'bytes in', title: 'Downloaded' }, `↓ ${humanBytes(a.total_in)}`),
        h('span', { class: 'bytes out', title: 'Uploaded' }, `↑ ${humanBytes(a.total_out)}`),
      )
    }),
  )
}
