import { clearMocks, mockIPC } from '@tauri-apps/api/mocks'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as api from '../../src/api'

let calls: [string, unknown][]

beforeEach(() => {
  calls = []
  mockIPC((cmd, args) => {
    calls.push([cmd, args])
    if (cmd === 'status') throw 'store is locked'
    return null
  })
})

afterEach(() => clearMocks())

describe('commands', () => {
  it('send camelCase arguments and leave out a missing day', async () => {
    await api.dayCurve(undefined, 5)
    await api.dayCurve('2026-07-10', 1)
    await api.typicalDay('2026-07-10', 5)
    await api.verdict()
    await api.verdict('2026-07-10')
    await api.markNormal('2026-07-10')
    await api.newNormal('2026-07-10')
    await api.history(7)
    await api.history()
    await api.checkNow()
    await api.learning()
    await api.pause()
    await api.resume()
    expect(calls).toEqual([
      ['day_curve', { stepMin: 5 }],
      ['day_curve', { day: '2026-07-10', stepMin: 1 }],
      ['typical_day', { day: '2026-07-10', stepMin: 5 }],
      ['verdict', {}],
      ['verdict', { day: '2026-07-10' }],
      ['mark_normal', { day: '2026-07-10' }],
      ['new_normal', { day: '2026-07-10' }],
      ['history', { limit: 7 }],
      ['history', {}],
      ['check_now', {}],
      ['learning', {}],
      ['pause', {}],
      ['resume', {}],
    ])
  })

  it('ask for usage history and exports with the range as given, and no app unless one is chosen', async () => {
    await api.usageHistory({ from: '2026-07-08', to: '2026-07-14', by: 'day' })
    await api.usageHistory({ from: '2025-08-01', to: '2026-07-14', by: 'month', app: 'Slack' })
    await api.usageHistory({ from: '2026-07-08', to: '2026-07-14', by: 'day', app: undefined })
    await api.exportRange({ from: '2026-07-08', to: '2026-07-14', format: 'csv' })
    await api.exportRange({ from: '2026-06-01', to: '2026-06-30', format: 'ndjson', app: 'Zoom' })
    expect(calls).toEqual([
      ['usage_history', { from: '2026-07-08', to: '2026-07-14', by: 'day' }],
      ['usage_history', { from: '2025-08-01', to: '2026-07-14', by: 'month', app: 'Slack' }],
      ['usage_history', { from: '2026-07-08', to: '2026-07-14', by: 'day' }],
      ['export_range', { from: '2026-07-08', to: '2026-07-14', format: 'csv' }],
      ['export_range', { from: '2026-06-01', to: '2026-06-30', format: 'ndjson', app: 'Zoom' }],
    ])
  })

  it('ask for one network’s usage history only when a network is chosen, and for the networks of a range', async () => {
    await api.usageHistory({ from: '2026-07-08', to: '2026-07-14', by: 'day', network: 'wifi:Home' })
    await api.usageHistory({ from: '2026-07-08', to: '2026-07-14', by: 'day', app: 'Zoom', network: 'wifi:iPhone' })
    await api.usageHistory({ from: '2026-07-08', to: '2026-07-14', by: 'day', network: undefined })
    await api.networks({ from: '2026-07-08', to: '2026-07-14' })
    expect(calls).toEqual([
      ['usage_history', { from: '2026-07-08', to: '2026-07-14', by: 'day', network: 'wifi:Home' }],
      ['usage_history', { from: '2026-07-08', to: '2026-07-14', by: 'day', app: 'Zoom', network: 'wifi:iPhone' }],
      ['usage_history', { from: '2026-07-08', to: '2026-07-14', by: 'day' }],
      ['networks', { from: '2026-07-08', to: '2026-07-14' }],
    ])
  })

  it('pass a command’s error on as a readable message', async () => {
    const err = await api.status().catch((e: unknown) => e)
    expect(api.errorMessage(err)).toBe('store is locked')
    expect(api.errorMessage(new Error('boom'))).toBe('boom')
    expect(api.errorMessage({ message: 'nested' })).toBe('nested')
    expect(api.errorMessage({ code: 3 })).toBe('{"code":3}')
  })
})
