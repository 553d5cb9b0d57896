import { describe, expect, it, vi } from 'vitest'
import type { NetworkRow } from '../../src/api'
import {
  ALL_NETWORKS,
  NetworkChooser,
  networkLabel,
  networkOptions,
  NO_NETWORKS,
  renderNetworksTable,
  type NetworksModel,
} from '../../src/networks'

const MB = 1_000_000

const net = (id: string, name: string, metered: boolean, i: number, o: number): NetworkRow => ({
  id,
  name,
  metered,
  first_seen: '2026-01-05T07:40:00Z',
  last_seen: '2026-07-14T06:50:00Z',
  bytes_in: i * MB,
  bytes_out: o * MB,
})

const HOME = net('wifi:Home', 'Home', false, 9325, 3916)
const PHONE = net('wifi:iPhone', 'iPhone', true, 525, 30)

function cells(root: HTMLElement, part: string): string[][] {
  return [...root.querySelectorAll(`${part} tr`)].map((tr) => [...tr.children].map((c) => c.textContent ?? ''))
}

function table(over: Partial<NetworksModel>, select = vi.fn()): HTMLTableElement {
  const root = document.createElement('table')
  renderNetworksTable(root, { networks: null, chosen: null, message: 'Loading…', ...over }, select)
  return root
}

describe('the network chooser', () => {
  it('offers all networks, then each network by name, metered ones said so', () => {
    expect(networkOptions([HOME, PHONE], null)).toEqual([
      { value: '', label: 'All networks', title: 'Bytes over every network' },
      { value: 'wifi:Home', label: 'Home', title: 'wifi:Home' },
      { value: 'wifi:iPhone', label: 'iPhone · metered', title: 'wifi:iPhone' },
    ])
  })

  it('tells apart two networks of one name by their ids, and names a blank one by its id', () => {
    const wired = net('eth:Home', 'Home', false, 1, 1)
    const blank = net('cell:pdp_ip0', '  ', true, 1, 1)
    expect(networkOptions([HOME, wired, blank], null).map((o) => o.label)).toEqual([
      ALL_NETWORKS,
      'Home (wifi:Home)',
      'Home (eth:Home)',
      'cell:pdp_ip0 · metered',
    ])
    expect(networkLabel(PHONE)).toBe('iPhone · metered')
  })

  it('keeps offering a chosen network the list does not have, under its id', () => {
    expect(networkOptions(null, 'wifi:Office').map((o) => [o.value, o.label])).toEqual([
      ['', ALL_NETWORKS],
      ['wifi:Office', 'wifi:Office'],
    ])
    expect(networkOptions([HOME], 'wifi:Home')).toHaveLength(2)
    expect(networkOptions([], null)).toHaveLength(1)
  })

  it('fills a select, shows the chosen network and reports a change', () => {
    const select = document.createElement('select')
    const pick = vi.fn()
    const chooser = new NetworkChooser(select, pick)
    chooser.update([HOME, PHONE], 'wifi:iPhone')
    expect([...select.options].map((o) => [o.value, o.textContent])).toEqual([
      ['', 'All networks'],
      ['wifi:Home', 'Home'],
      ['wifi:iPhone', 'iPhone · metered'],
    ])
    expect(select.value).toBe('wifi:iPhone')
    expect(select.disabled).toBe(false)
    select.value = 'wifi:Home'
    select.dispatchEvent(new Event('change'))
    expect(pick).toHaveBeenLastCalledWith('wifi:Home')
    select.value = ''
    select.dispatchEvent(new Event('change'))
    expect(pick).toHaveBeenLastCalledWith(null)
  })

  it('keeps its options when nothing changed, and is disabled with nothing to choose', () => {
    const select = document.createElement('select')
    const chooser = new NetworkChooser(select, vi.fn())
    chooser.update([HOME, PHONE], null)
    const first = select.options[1]
    chooser.update([{ ...HOME }, { ...PHONE }], 'wifi:Home')
    expect(select.options[1]).toBe(first)
    expect(select.value).toBe('wifi:Home')
    chooser.update([], null)
    expect([...select.options].map((o) => o.textContent)).toEqual(['All networks'])
    expect(select.disabled).toBe(true)
  })

  it('writes network names as text', () => {
    const select = document.createElement('select')
    const evil = net('wifi:<b>x</b>', '<img src=x onerror=alert(1)>', false, 1, 1)
    new NetworkChooser(select, vi.fn()).update([evil], null)
    expect(select.querySelector('img')).toBeNull()
    expect(select.options[1]?.textContent).toBe('<img src=x onerror=alert(1)>')
    expect(select.options[1]?.value).toBe('wifi:<b>x</b>')
  })
})

describe('the networks table', () => {
  it('lists each network: name, id, metered, downloaded, uploaded and total', () => {
    const root = table({ networks: [HOME, PHONE], message: '' })
    expect(root.hidden).toBe(false)
    expect(root.querySelector('caption')?.textContent).toBe('Networks')
    expect(cells(root, 'thead')).toEqual([['Network', 'Metered', 'Down', 'Up', 'Total']])
    expect(cells(root, 'tbody')).toEqual([
      ['Homewifi:Home', 'no', '9.3 GB', '3.9 GB', '13 GB'],
      ['iPhonewifi:iPhone', 'yes', '525 MB', '30 MB', '555 MB'],
    ])
    const names = [...root.querySelectorAll('.network-name')].map((e) => e.textContent)
    const ids = [...root.querySelectorAll('.network-id')].map((e) => [e.textContent, e.classList.contains('muted')])
    expect(names).toEqual(['Home', 'iPhone'])
    expect(ids).toEqual([
      ['wifi:Home', true],
      ['wifi:iPhone', true],
    ])
    expect(root.querySelector('tr[data-network="wifi:iPhone"] td.metered')?.textContent).toBe('yes')
  })

  it('chooses a network from its row, and lets go when the chosen one is clicked again', () => {
    const select = vi.fn()
    const root = table({ networks: [HOME, PHONE], chosen: 'wifi:iPhone', message: '' }, select)
    const pick = (id: string): HTMLButtonElement | null => root.querySelector(`tr[data-network="${id}"] .network-pick`)
    expect(pick('wifi:iPhone')?.getAttribute('aria-pressed')).toBe('true')
    expect(pick('wifi:Home')?.getAttribute('aria-pressed')).toBe('false')
    expect(root.querySelector('tr.chosen')?.getAttribute('data-network')).toBe('wifi:iPhone')
    pick('wifi:Home')?.click()
    expect(select).toHaveBeenCalledTimes(1)
    expect(select).toHaveBeenLastCalledWith('wifi:Home')
    root.querySelector<HTMLElement>('tr[data-network="wifi:iPhone"] td')?.click()
    expect(select).toHaveBeenLastCalledWith(null)
  })

  it('says when no network is known in the range', () => {
    const root = table({ networks: [], message: '' })
    expect(root.hidden).toBe(false)
    expect(cells(root, 'tbody')).toEqual([[NO_NETWORKS]])
    expect(NO_NETWORKS).toBe('No network recorded in this range')
  })

  it('says "Loading…" while loading, and is not there at all after a failure', () => {
    expect(cells(table({ networks: null, message: 'Loading…' }), 'tbody')).toEqual([['Loading…']])
    expect(table({ networks: null, message: '' }).hidden).toBe(true)
  })

  it('writes network names and ids as text', () => {
    const root = table({ networks: [net('wifi:<i>x</i>', '<img src=x onerror=alert(1)>', true, 1, 1)], message: '' })
    expect(root.querySelector('img')).toBeNull()
    expect(root.querySelector('i')).toBeNull()
    expect(root.querySelector('.network-name')?.textContent).toBe('<img src=x onerror=alert(1)>')
    expect(root.querySelector('.network-id')?.textContent).toBe('wifi:<i>x</i>')
  })
})
