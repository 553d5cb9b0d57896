// The data plan glance under the status line, in real Chromium, IPC mocked:
// the numbers, the meter and its level, and nothing without a plan.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { appSuite, SHOTS, text } from './harness.mjs'

const withApp = appSuite()

const PLAN = { period_start: '2026-07-01', period_end: '2026-07-31', limit_bytes: 50_000_000_000 }

describe('the data plan glance', () => {
  const LEVELS = [
    { used: 32_100_000_000, level: 'ok', text: '32 GB of 50 GB · 64 % · until 31 Jul', now: '64' },
    { used: 42_500_000_000, level: 'warn', text: '43 GB of 50 GB · 85 % · until 31 Jul', now: '85' },
    { used: 40_000_000_000, level: 'warn', text: '40 GB of 50 GB · 80 % · until 31 Jul', now: '80' },
    { used: 55_000_000_000, level: 'alert', text: '55 GB of 50 GB · 110 % · until 31 Jul', now: '100' },
  ]
  for (const want of LEVELS) {
    it(`shows ${want.text.split(' · ')[1]} of the billing period as ${want.level}`, async () => {
      await withApp({ scenario: { plan: { ...PLAN, used_bytes: want.used } } }, async (page) => {
        const plan = page.locator('#plan')
        await plan.waitFor({ state: 'visible' })
        assert.equal(await text(page, '#plan .plan-text'), want.text)
        assert.equal(await text(page, '#plan .plan-label'), 'Data plan')
        assert.equal(await plan.getAttribute('data-level'), want.level)
        const meter = page.getByRole('meter', { name: 'Data plan used' })
        assert.equal(await meter.getAttribute('aria-valuenow'), want.now)
        const fill = await page.locator('#plan .meter-fill').boundingBox()
        const track = await meter.boundingBox()
        const expected = Math.min(1, want.used / PLAN.limit_bytes)
        assert.ok(Math.abs(fill.width / track.width - expected) < 0.01, `meter at ${fill.width / track.width}`)
        // The level shows in color: the meter is green, amber or red.
        const colors = await page.evaluate(() => {
          const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim()
          const probe = document.createElement('span')
          document.body.append(probe)
          const rgb = (c) => {
            probe.style.color = c
            return getComputedStyle(probe).color
          }
          const out = {
            fill: getComputedStyle(document.querySelector('#plan .meter-fill')).backgroundColor,
            ok: rgb(css('--ok')),
            warn: rgb(css('--warn')),
            alert: rgb(css('--bad')),
          }
          probe.remove()
          return out
        })
        assert.equal(colors.fill, colors[want.level])
        if (want.used === 42_500_000_000) await page.screenshot({ path: join(SHOTS, 'light-plan.png') })
      })
    })
  }

  it('warns in the dark too', async () => {
    await withApp({ colorScheme: 'dark', scenario: { plan: { ...PLAN, used_bytes: 42_500_000_000 } } }, async (page) => {
      await page.locator('#plan[data-level="warn"]').waitFor()
      await page.screenshot({ path: join(SHOTS, 'dark-plan.png') })
    })
  })

  it('is absent without a plan', async () => {
    await withApp({}, async (page) => {
      assert.match(await text(page, '#status .status-text'), /^Watching/)
      assert.equal(await page.locator('#plan').isHidden(), true)
      assert.equal(await page.getByRole('meter').count(), 0)
      assert.equal(await page.getByText('Data plan').count(), 0)
    })
  })

  it('follows the plan in nbi://status', async () => {
    await withApp({}, async (page) => {
      await page.evaluate(
        (plan) =>
          window.nbiMock.emit('nbi://status', {
            state: 'watching',
            reason: null,
            last_tick: '2026-07-14T13:32:00Z',
            source: 'nettop',
            host: 'mbp',
            grafana_url: null,
            plan,
          }),
        { ...PLAN, used_bytes: 50_000_000_000 },
      )
      await page.locator('#plan[data-level="alert"]').waitFor()
      assert.equal(await text(page, '#plan .plan-text'), '50 GB of 50 GB · 100 % · until 31 Jul')
      await page.evaluate(() =>
        window.nbiMock.emit('nbi://status', {
          state: 'watching',
          reason: null,
          last_tick: '2026-07-14T13:32:00Z',
          source: 'nettop',
          host: 'mbp',
          grafana_url: null,
          plan: null,
        }),
      )
      await page.locator('#plan').waitFor({ state: 'hidden' })
    })
  })
})
