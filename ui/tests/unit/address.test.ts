import { describe, expect, it } from 'vitest'
import { DEFAULT_ADDRESS, readAddress, writeAddress } from '../../src/address'

describe('the address', () => {
  it('opens the Today view on today by default', () => {
    expect(readAddress('')).toEqual(DEFAULT_ADDRESS)
    expect(writeAddress(DEFAULT_ADDRESS)).toBe('')
  })

  it('keeps a past day, as ?day= always did', () => {
    expect(readAddress('?day=2026-07-12')).toMatchObject({ day: '2026-07-12', view: 'today' })
    expect(writeAddress({ ...DEFAULT_ADDRESS, day: '2026-07-12' })).toBe('day=2026-07-12')
  })

  it('names the History view with its range and app', () => {
    const a = readAddress('?view=history&range=2026-06&app=Google%20Chrome%20Helper')
    expect(a).toEqual({ day: null, view: 'history', range: { kind: 'month', month: '2026-06' }, app: 'Google Chrome Helper', network: null })
    expect(readAddress(`?${writeAddress(a)}`)).toEqual(a)
    expect(writeAddress({ ...DEFAULT_ADDRESS, view: 'history' })).toBe('view=history&range=7d')
  })

  it('leaves the History view’s settings out of the Today view’s address', () => {
    expect(writeAddress({ day: null, view: 'today', range: { kind: '30d' }, app: 'Slack', network: 'wifi:Home' })).toBe('')
  })

  it('writes app names that need escaping so that they read back the same', () => {
    const app = 'A&B=C ?#/ü'
    const a = { ...DEFAULT_ADDRESS, view: 'history' as const, app }
    expect(readAddress(`?${writeAddress(a)}`).app).toBe(app)
  })

  it('keeps the chosen network, escaped, beside the app', () => {
    const a = { ...DEFAULT_ADDRESS, view: 'history' as const, app: 'Zoom', network: 'wifi:Café & Bar #2' }
    expect(writeAddress(a)).toBe('view=history&range=7d&app=Zoom&network=wifi%3ACaf%C3%A9+%26+Bar+%232')
    expect(readAddress(`?${writeAddress(a)}`)).toEqual(a)
    expect(readAddress('?view=history&network=wifi%3AHome').network).toBe('wifi:Home')
  })

  it('ignores what it cannot read', () => {
    expect(readAddress('?view=weekly&range=5y&app=&network=&day=2026-02-30')).toEqual(DEFAULT_ADDRESS)
  })
})
