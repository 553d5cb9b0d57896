import { beforeEach, describe, expect, it, vi } from 'vitest'
import { renderVerdict, type VerdictModel } from '../../src/verdict'
import { ANOMALOUS, verdict } from './fixtures'

let root: HTMLElement
const handlers = { checkNow: vi.fn(), markNormal: vi.fn(), newNormal: vi.fn() }

function render(over: Partial<VerdictModel>): void {
  renderVerdict(root, { verdict: null, learning: null, checking: false, marking: false, checkError: null, ...over }, handlers)
}

const title = (): string => root.querySelector('h2')?.textContent ?? ''
const text = (): string => root.textContent ?? ''
const button = (label: string): HTMLButtonElement | undefined =>
  [...root.querySelectorAll('button')].find((b) => b.textContent === label)

beforeEach(() => {
  root = document.createElement('section')
  handlers.checkNow.mockReset()
  handlers.markNormal.mockReset()
  handlers.newNormal.mockReset()
})

describe('verdict card', () => {
  it('says a normal day is normal, with its day and summary', () => {
    render({ verdict: verdict() })
    expect(root.dataset.status).toBe('normal')
    expect(title()).toBe('Normal day')
    expect(text()).toContain('Mon 13 Jul · workday')
    expect(text()).toContain('Mon 13 Jul: normal')
    expect(button('This was normal')).toBeUndefined()
  })

  it('explains an unusual day hour by hour and offers to mark it normal', () => {
    render({ verdict: ANOMALOUS })
    expect(root.dataset.status).toBe('anomalous')
    expect(title()).toBe('Unusual day')
    const lines = [...root.querySelectorAll('.explanation li')].map((li) => li.textContent)
    expect(lines).toEqual([
      'Transmission 03:00–04:00: 30 GB, typically 595 kB',
      'Slack 22:00–24:00: 20 MB, typically 6.0 MB',
    ])
    button('This was normal')?.click()
    expect(handlers.markNormal).toHaveBeenCalledWith('2026-07-13')
  })

  it('falls back to the summary when an unusual day comes without an explanation', () => {
    render({ verdict: { ...ANOMALOUS, explanation: [] } })
    expect(root.querySelector('.explanation')).toBeNull()
    expect(text()).toContain('Transmission 03:00–04:00, 30 GB (typically 595 kB)')
  })

  it('says a day could not be judged, and why', () => {
    render({
      verdict: verdict({
        status: 'failed',
        summary: 'Mon 13 Jul: could not be judged: model: the matrix is empty',
      }),
    })
    expect(root.dataset.status).toBe('failed')
    expect(title()).toBe('Mon 13 Jul could not be judged')
    expect(text()).toContain('model: the matrix is empty')
    expect(button('This was normal')).toBeUndefined()
  })

  it('hides "This was normal" once the day is marked normal', () => {
    render({ verdict: { ...ANOMALOUS, marked_normal: true } })
    expect(title()).toBe('Unusual day')
    expect(button('This was normal')).toBeUndefined()
    expect(text()).toContain('You marked this day as normal.')
  })

  it('offers a new normal from an unusual day, and says when one was chosen', () => {
    render({ verdict: ANOMALOUS })
    button('This is my new normal')?.click()
    expect(handlers.newNormal).toHaveBeenCalledWith('2026-07-13')
    expect(handlers.markNormal).not.toHaveBeenCalled()
    render({
      verdict: { ...ANOMALOUS, marked_normal: true, routine: { since: '2026-07-13', kind: null, by: 'owner' } },
    })
    expect(button('This is my new normal')).toBeUndefined()
    expect(button('This was normal')).toBeUndefined()
    expect(text()).toContain('You said this is your new normal from Mon 13 Jul.')
  })

  it('tells a recognised change of routine in its summary, with no alarm', () => {
    render({
      verdict: verdict({
        summary: 'Mon 13 Jul: Your weekdays look different since Thu 9 Jul; learning the new rhythm',
        routine: { since: '2026-07-09', kind: 'workday', by: 'detected' },
      }),
    })
    expect(title()).toBe('Normal day')
    expect(text()).toContain('Your weekdays look different since Thu 9 Jul')
    expect(button('This is my new normal')).toBeUndefined()
  })

  it('disables "This was normal" while it is being saved', () => {
    render({ verdict: ANOMALOUS, marking: true })
    expect(button('Saving…')?.disabled).toBe(true)
  })

  it('counts the learning days from the learning progress', () => {
    render({ verdict: verdict({ status: 'learning', baseline_days: 2 }), learning: { have: 3, need: 7, day_kind: 'workday' } })
    expect(root.dataset.status).toBe('learning')
    expect(title()).toBe('Learning your rhythm: day 3 of 7')
    expect(text()).toContain('7 workdays')
  })

  it('still says something sensible while learning without the progress', () => {
    render({ verdict: verdict({ status: 'learning', baseline_days: 2, day_kind: 'day_off' }) })
    expect(title()).toBe('Learning your rhythm: day 2 of 7')
    expect(text()).toContain('7 days off')
  })

  it('says which day had too little data and how much is missing', () => {
    render({ verdict: verdict({ status: 'insufficient_data', uncollected_hours: 14, summary: '' }) })
    expect(root.dataset.status).toBe('insufficient_data')
    expect(title()).toBe('Not enough data for Mon 13 Jul')
    expect(text()).toContain('14 hours uncollected')
  })

  it('has a calm placeholder before the first verdict', () => {
    render({ verdict: null })
    expect(root.dataset.status).toBe('none')
    expect(title()).toBe('No day judged yet')
    expect(text()).toContain('after the first full day')
  })

  it('checks now on request and shows that it is busy', () => {
    render({ verdict: null })
    button('Check now')?.click()
    expect(handlers.checkNow).toHaveBeenCalledOnce()
    render({ verdict: null, checking: true })
    const busy = button('Checking…')
    expect(busy?.disabled).toBe(true)
    expect(busy?.getAttribute('aria-busy')).toBe('true')
  })

  it('shows why a check failed', () => {
    render({ verdict: verdict(), checkError: 'model not trained' })
    expect(root.querySelector('.error-line')?.textContent).toBe('Check failed: model not trained')
  })

  it('writes app names as text, never as markup', () => {
    render({
      verdict: { ...ANOMALOUS, explanation: [{ app: '<img src=x>', from_hour: 1, to_hour: 2, bytes: 1, typical_bytes: 0 }] },
    })
    expect(root.querySelector('img')).toBeNull()
    expect(text()).toContain('<img src=x> 01:00–02:00')
  })
})
