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
    expect(a).toEqual({ day: null, view: 'history', range: { kind: 'month', month: '2026-06' }, app: 'Google Chrome Helper' })
    expect(readAddress(`?${writeAddress(a)}`)).toEqual(a)
    expect(writeAddress({ ...DEFAULT_ADDRESS, view: 'history' })).toBe('view=history&range=7d')
  })

  it('leaves the History view’s settings out of the Today view’s address', () => {
    expect(writeAddress({ day: null, view: 'today', range: { kind: '30d' }, app: 'Slack' })).toBe('')
  })

  it('writes app names that need escaping so that they read back the same', () => {
    const app = 'A&B=C ?#/ü'
    const a = { ...DEFAULT_ADDRESS, view: 'history' as const, app }
    expect(readAddress(`?${writeAddress(a)}`).app).toBe(app)
  })

  it('ignores what it cannot read', () => {
    expect(readAddress('?view=weekly&range=5y&app=&day=2026-02-30')).toEqual(DEFAULT_ADDRESS)
  })
})
