import { describe, expect, it, vi } from 'vitest'
import { renderStatus, statusView } from '../../src/status'
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
