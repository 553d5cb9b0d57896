import { describe, expect, it, vi } from 'vitest'
import { networkInUseText, renderNetworkInUse, renderStatus, statusView } from '../../src/status'
import { status } from './fixtures'

describe('statusView', () => {
  it('is watching, with the last tick in local time', () => {
    expect(statusView(status(), 'Europe/Berlin')).toEqual({
      text: 'Watching',
      detail: 'last tick 15:31',
      tone: 'ok',
      action: 'pause',
      note: '',
    })
  })

  it('says when the source sees less than it could', () => {
    const note = 'counting TCP only: loading the eBPF programs: Operation not permitted'
    const v = statusView(status({ mode_note: note }), 'UTC')
    expect([v.text, v.tone, v.note]).toEqual(['Watching', 'ok', note])
    expect(statusView(status({ mode_note: null })).note).toBe('')
  })

  it('is paused, and offers to resume', () => {
    const v = statusView(status({ state: 'paused' }), 'UTC')
    expect([v.text, v.detail, v.action]).toEqual(['Paused', 'last tick 13:31', 'resume'])
  })

  it('says why the source is failing', () => {
    const v = statusView(status({ state: 'failing', reason: 'nettop exited with status 1' }), 'UTC')
    expect(v.text).toBe('Source failing: nettop exited with status 1')
    expect(v.tone).toBe('bad')
    expect(statusView(status({ state: 'failing', reason: null })).text).toBe('Source failing')
  })

  it('is starting before the first tick', () => {
    expect(statusView(status({ state: 'starting', last_tick: null }))).toMatchObject({ text: 'Starting…', detail: '' })
    expect(statusView(null).text).toBe('Starting…')
  })

  it('is stopped', () => {
    expect(statusView(status({ state: 'stopped' })).text).toBe('Stopped')
  })

  it('ignores a last tick it cannot read', () => {
    expect(statusView(status({ last_tick: 'soon' })).detail).toBe('')
  })
})

describe('renderStatus', () => {
  it('offers the action that fits the state', () => {
    const root = document.createElement('div')
    const toggle = vi.fn()
    renderStatus(root, status(), false, { toggle })
    root.querySelector('button')?.click()
    expect(root.querySelector('button')?.textContent).toBe('Pause')
    expect(toggle).toHaveBeenLastCalledWith('pause')

    renderStatus(root, status({ state: 'paused' }), false, { toggle })
    root.querySelector('button')?.click()
    expect(root.querySelector('button')?.textContent).toBe('Resume')
    expect(toggle).toHaveBeenLastCalledWith('resume')
    expect(root.querySelector('strong')?.textContent).toBe('Paused')
  })

  it('shows the note beside the state', () => {
    const root = document.createElement('div')
    renderStatus(root, status({ mode_note: 'counting TCP only: no cgroup v2' }), false, { toggle: vi.fn() })
    expect(root.querySelector('.status-note')?.textContent).toBe(' · counting TCP only: no cgroup v2')
    renderStatus(root, status(), false, { toggle: vi.fn() })
    expect(root.querySelector('.status-note')).toBeNull()
  })

  it('disables the button while the change is on its way', () => {
    const root = document.createElement('div')
    renderStatus(root, status(), true, { toggle: vi.fn() })
    expect(root.querySelector('button')?.disabled).toBe(true)
  })
})

describe('the network in use', () => {
  it('says which network the bytes go over, and when it is metered', () => {
    expect(networkInUseText({ id: 'wifi:Home', name: 'Home', metered: false })).toBe('On Home')
    expect(networkInUseText({ id: 'wifi:iPhone', name: 'iPhone', metered: true })).toBe('On iPhone · metered')
    expect(networkInUseText({ id: 'cell:pdp_ip0', name: '', metered: true })).toBe('On cell:pdp_ip0 · metered')
    expect(networkInUseText(undefined)).toBe('')
    expect(networkInUseText(null)).toBe('')
  })

  it('shows the network with its id on hover, and nothing when it is not known', () => {
    const root = document.createElement('div')
    renderNetworkInUse(root, { id: 'wifi:iPhone', name: 'iPhone', metered: true })
    expect(root.hidden).toBe(false)
    expect(root.textContent).toBe('On iPhone · metered')
    expect(root.querySelector('.network-name')?.textContent).toBe('iPhone')
    expect(root.title).toBe('wifi:iPhone')
    expect(root.dataset.metered).toBe('true')
    renderNetworkInUse(root, { id: 'wifi:Home', name: 'Home', metered: false })
    expect(root.textContent).toBe('On Home')
    expect(root.querySelector('.network-metered')).toBeNull()
    renderNetworkInUse(root, status().network)
    expect(root.hidden).toBe(true)
    expect(root.textContent).toBe('')
    expect(root.hasAttribute('title')).toBe(false)
  })

  it('writes the network name as text', () => {
    const root = document.createElement('div')
    renderNetworkInUse(root, { id: 'wifi:x', name: '<img src=x onerror=alert(1)>', metered: false })
    expect(root.querySelector('img')).toBeNull()
    expect(root.textContent).toBe('On <img src=x onerror=alert(1)>')
  })
})
