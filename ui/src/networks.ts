// The History view's networks: the chooser that limits the chart and the top
// apps to one network's bytes, and the table of the networks the range's
// bytes went over. Network names come from the owner or the OS (a Wi-Fi name
// is whatever the access point broadcasts): they only ever go in as text.
import type { NetworkId, NetworkRow } from './api'
import { fill, h } from './dom'
import { humanBytes } from './format'

export const ALL_NETWORKS = 'All networks'
export const NO_NETWORKS = 'No network recorded in this range'

export interface NetworkOption {
  /** The network's id; '' for all networks. */
  value: string
  label: string
  /** The id, on hover. */
  title: string
}

/** The name as shown: the id when the name is blank. */
export function networkName(n: { id: NetworkId; name: string }): string {
  return (n.name ?? '').trim() || n.id
}

/** "Home", "iPhone · metered"; a name that two networks share gets the id too: "Home (eth:Home)". */
export function networkLabel(n: { id: NetworkId; name: string; metered: boolean }, shared = false): string {
  const name = networkName(n)
  return `${shared ? `${name} (${n.id})` : name}${n.metered ? ' · metered' : ''}`
}

/**
 * What the chooser offers: all networks, then each network of the range,
 * largest first. A chosen network the list does not have (still loading, or
 * the list failed) stays offered under its id, so the chooser never lies
 * about what the chart shows.
 */
export function networkOptions(networks: NetworkRow[] | null, chosen: NetworkId | null): NetworkOption[] {
  const list = networks ?? []
  const names = new Map<string, number>()
  for (const n of list) names.set(networkName(n), (names.get(networkName(n)) ?? 0) + 1)
  const options: NetworkOption[] = [{ value: '', label: ALL_NETWORKS, title: 'Bytes over every network' }]
  for (const n of list) {
    options.push({ value: n.id, label: networkLabel(n, (names.get(networkName(n)) ?? 0) > 1), title: n.id })
  }
  if (chosen !== null && !list.some((n) => n.id === chosen)) options.push({ value: chosen, label: chosen, title: chosen })
  return options
}

/** The network filter: a `<select>` of all networks and the range's networks. */
export class NetworkChooser {
  private shown = ''

  constructor(
    private readonly select: HTMLSelectElement,
    pick: (network: NetworkId | null) => void,
  ) {
    select.addEventListener('change', () => pick(select.value === '' ? null : select.value))
  }

  update(networks: NetworkRow[] | null, chosen: NetworkId | null): void {
    const options = networkOptions(networks, chosen)
    // Rebuilt only when the list changes: a refresh must not close a list that is open.
    const key = JSON.stringify(options)
    if (key !== this.shown) {
      this.shown = key
      fill(
        this.select,
        ...options.map((o) => {
          const option = h('option', { title: o.title }, o.label)
          option.value = o.value
          return option
        }),
      )
    }
    this.select.value = chosen ?? ''
    // Nothing to choose from: only "All networks".
    this.select.disabled = options.length < 2
  }
}

export interface NetworksModel {
  /** The range's networks; null while loading or after a failure. */
  networks: NetworkRow[] | null
  chosen: NetworkId | null
  /** Said while `networks` is null; without one (a failure, said in the banner), no table. */
  message: string
}

/**
 * The range's networks: name (the id under it, muted), metered, downloaded,
 * uploaded and total. A row limits the History view to its network; the
 * chosen network's row sets it free again.
 */
export function renderNetworksTable(root: HTMLTableElement, m: NetworksModel, select: (network: NetworkId | null) => void): void {
  const caption = h('caption', {}, 'Networks')
  const head = h(
    'thead',
    {},
    h(
      'tr',
      {},
      h('th', { attrs: { scope: 'col' } }, 'Network'),
      h('th', { class: 'flag', title: 'Metered: the owner or the OS says its bytes cost', attrs: { scope: 'col' } }, 'Metered'),
      h('th', { class: 'num', title: 'Downloaded', attrs: { scope: 'col' } }, 'Down'),
      h('th', { class: 'num', title: 'Uploaded', attrs: { scope: 'col' } }, 'Up'),
      h('th', { class: 'num', attrs: { scope: 'col' } }, 'Total'),
    ),
  )
  root.hidden = m.networks === null && !m.message
  if (!m.networks || !m.networks.length) {
    const said = m.networks ? NO_NETWORKS : m.message
    fill(root, caption, head, h('tbody', {}, h('tr', { class: 'message' }, h('td', { class: 'muted', attrs: { colspan: '5' } }, said))))
    return
  }
  const row = (n: NetworkRow): HTMLTableRowElement => {
    const chosen = n.id === m.chosen
    const name = networkName(n)
    const pick = (): void => select(chosen ? null : n.id)
    const button = h(
      'button',
      {
        type: 'button',
        class: 'network-pick',
        title: chosen ? 'Show all networks' : `Show only ${name}`,
        attrs: { 'aria-pressed': String(chosen) },
        on: {
          click: (e) => {
            // The row listens too: one click, one change.
            e.stopPropagation()
            pick()
          },
        },
      },
      h('span', { class: 'network-name', title: name }, name),
      h('span', { class: 'network-id muted', title: n.id }, n.id),
    )
    return h(
      'tr',
      { class: chosen ? 'network chosen' : 'network', attrs: { 'data-network': n.id }, on: { click: pick } },
      h('th', { attrs: { scope: 'row' } }, button),
      h('td', { class: n.metered ? 'flag metered' : 'flag muted' }, n.metered ? 'yes' : 'no'),
      h('td', { class: 'bytes in' }, humanBytes(n.bytes_in)),
      h('td', { class: 'bytes out' }, humanBytes(n.bytes_out)),
      h('td', { class: 'bytes total' }, humanBytes(n.bytes_in + n.bytes_out)),
    )
  }
  fill(root, caption, head, h('tbody', {}, ...m.networks.map(row)))
}
