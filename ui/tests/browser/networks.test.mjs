// Networks in real Chromium, IPC mocked: the History view's network chooser
// and networks table, and the network in use with its plan under the status.
// The mock (tests/browser/mock.ts) sends everything over wifi:Home except
// Spotify and Signal on workdays since 5 Jan 2026, which go over wifi:iPhone
// (metered). In 8–14 Jul that is, in MB:
//
//   wifi:iPhone   Spotify 5 × 100 / 5 × 1, Signal 5 × 5 / 5 × 5    525 / 30
//   wifi:Home     everything else (9850 / 3946 in all)             9325 / 3916
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { appSuite, callsOf, SHOTS, text, until, waitForCall } from './harness.mjs'

const withApp = appSuite()
const search = (page) => page.evaluate(() => location.search)

const WEEK = { from: '2026-07-08', to: '2026-07-14', by: 'day' }
const GB = 1_000_000_000

const plan = (name, usedGb, limitGb, over = {}) => ({
  period_start: '2026-07-01',
  period_end: '2026-07-31',
  used_bytes: usedGb * GB,
  limit_bytes: limitGb * GB,
  name,
  networks: [],
  metered: false,
  all_networks: false,
  ...over,
})
// In configuration order: the phone's plan is not the first, and still the one shown on the phone.
const PLANS = [
  plan('Home', 120, 1000, { networks: ['wifi:Home'] }),
  plan('Phone', 4.2, 10, { networks: ['wifi:iPhone'], metered: true }),
]
const ON_PHONE = { id: 'wifi:iPhone', name: 'iPhone', metered: true }

/** A table's rows as text: one array of cells per row. */
function rows(page, selector) {
  return page.evaluate(
    (sel) => [...document.querySelectorAll(sel)].map((tr) => [...tr.children].map((c) => c.textContent.trim())),
    selector,
  )
}

/** The networks table: name, id, metered, down, up, total. */
function networkRows(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('#usage-networks tbody tr.network')].map((tr) => [
      tr.querySelector('.network-name').textContent,
      tr.querySelector('.network-id').textContent,
      ...[...tr.querySelectorAll('td')].map((td) => td.textContent),
    ]),
  )
}

const options = (page) =>
  page.evaluate(() => [...document.querySelectorAll('#usage-network option')].map((o) => [o.value, o.textContent]))

/** Inked pixels down the middle of each of `n` bars: the bar's height, give or take the grid. */
async function barHeights(page, n) {
  return page.evaluate((count) => {
    const canvas = document.querySelector('#bars canvas')
    const over = document.querySelector('#bars .u-over').getBoundingClientRect()
    const box = canvas.getBoundingClientRect()
    const scale = canvas.width / box.width
    const ctx = canvas.getContext('2d')
    const top = Math.round((over.top - box.top) * scale)
    const height = Math.round(over.height * scale)
    return Array.from({ length: count }, (_, i) => {
      const x = Math.round((over.left - box.left + (over.width * (i + 0.5)) / count) * scale)
      const { data } = ctx.getImageData(x, top, 1, height)
      let inked = 0
      for (let j = 3; j < data.length; j += 4) if (data[j] > 0) inked++
      return inked
    })
  }, n)
}

describe('networks', () => {
  it('shows the network in use and its plan, lists the range’s networks, and limits the history to a chosen one', async () => {
    await withApp(
      { query: '?view=history', scenario: { network: ON_PHONE, plans: PLANS }, size: { width: 360, height: 800 } },
      async (page) => {
        // The glance: the network in use, its plan named with the meter, the other plan below.
        await page.locator('#network').waitFor({ state: 'visible' })
        assert.equal(await text(page, '#network'), 'On iPhone · metered')
        assert.equal(await page.locator('#network').getAttribute('title'), 'wifi:iPhone')
        assert.equal(await text(page, '#plan .plan-line .plan-label'), 'Phone')
        assert.equal(await text(page, '#plan .plan-line .plan-text'), '4.2 GB of 10 GB · 42 % · until 31 Jul')
        assert.equal(await page.getByRole('meter', { name: 'Data plan used' }).getAttribute('aria-valuenow'), '42')
        const others = await page.evaluate(() =>
          [...document.querySelectorAll('#plan .plan-others li')].map((li) => [...li.children].map((c) => c.textContent)),
        )
        assert.deepEqual(others, [['Home', '120 GB of 1.0 TB · 12 % · until 31 Jul']])
        const sizes = await page.evaluate(() => [
          parseFloat(getComputedStyle(document.querySelector('#plan .plan-line')).fontSize),
          parseFloat(getComputedStyle(document.querySelector('#plan .plan-others')).fontSize),
        ])
        assert.ok(sizes[1] < sizes[0], `the other plans in smaller text: ${sizes}`)

        // The History view: the week's networks, largest first.
        await waitForCall(page, 'networks', { from: WEEK.from, to: WEEK.to })
        await page.locator('#usage-networks tbody tr.network').first().waitFor()
        assert.equal(await text(page, '#usage-networks caption'), 'Networks')
        assert.deepEqual(await rows(page, '#usage-networks thead tr'), [['Network', 'Metered', 'Down', 'Up', 'Total']])
        assert.deepEqual(await networkRows(page), [
          ['Home', 'wifi:Home', 'no', '9.3 GB', '3.9 GB', '13 GB'],
          ['iPhone', 'wifi:iPhone', 'yes', '525 MB', '30 MB', '555 MB'],
        ])
        assert.deepEqual(await options(page), [
          ['', 'All networks'],
          ['wifi:Home', 'Home'],
          ['wifi:iPhone', 'iPhone · metered'],
        ])
        assert.equal(await page.locator('#usage-network').inputValue(), '')
        // Every network: Sunday (Transmission at home) is the tallest bar.
        await page.locator('#bars canvas').waitFor()
        const all = await barHeights(page, 7)
        assert.ok(all[4] > 2 * all[0], `Sunday ${all[4]} px against a workday's ${all[0]} px`)

        // The phone's bytes only: Spotify and Signal on workdays, nothing on the weekend.
        await page.getByLabel('Network', { exact: true }).selectOption({ label: 'iPhone · metered' })
        await waitForCall(page, 'usage_history', { ...WEEK, network: 'wifi:iPhone' })
        await until(async () => (await search(page)) === '?view=history&range=7d&network=wifi%3AiPhone', 'the address')
        await page.locator('#usage-apps tr[data-app="Spotify"]').waitFor()
        await page.locator('#view-history[aria-busy="false"]').waitFor()
        assert.deepEqual(await rows(page, '#usage-apps tbody tr'), [
          ['Spotify', '500 MB', '5.0 MB', '505 MB', '91 %'],
          ['Signal', '25 MB', '25 MB', '50 MB', '9.0 %'],
        ])
        assert.deepEqual(await rows(page, '#usage-apps tfoot tr'), [['All apps', '525 MB', '30 MB', '555 MB', '100 %']])
        await until(async () => (await barHeights(page, 7))[4] < 6, "Sunday's bar to go")
        const phone = await barHeights(page, 7)
        assert.ok(phone[3] < 6 && phone[4] < 6, `weekend ${phone[3]}, ${phone[4]}`)
        for (const i of [0, 1, 2, 5, 6]) assert.ok(phone[i] > 40, `workday ${i}: ${phone[i]} px`)
        assert.equal(
          await page.locator('#usage-networks tr[data-network="wifi:iPhone"] .network-pick').getAttribute('aria-pressed'),
          'true',
        )
        // The networks were not asked for again for a change of network.
        assert.equal((await callsOf(page, 'networks')).length, 1)
        await page.screenshot({ path: join(SHOTS, 'light-history-network.png'), fullPage: true })

        // A longer range still has the phone: it stays chosen.
        await page.getByRole('button', { name: '30 days' }).click()
        await waitForCall(page, 'usage_history', { from: '2026-06-15', to: '2026-07-14', by: 'day', network: 'wifi:iPhone' })
        await waitForCall(page, 'networks', { from: '2026-06-15', to: '2026-07-14' })
        await page.locator('#view-history[aria-busy="false"]').waitFor()
        assert.equal(await page.locator('#usage-network').inputValue(), 'wifi:iPhone')
        assert.equal(await search(page), '?view=history&range=30d&network=wifi%3AiPhone')

        // Its row lets go again: every network.
        await page.locator('#usage-networks tr[data-network="wifi:iPhone"]').click()
        await until(async () => (await search(page)) === '?view=history&range=30d', 'the address without the network')
        assert.equal(await page.locator('#usage-network').inputValue(), '')
        await page.locator('#view-history[aria-busy="false"]').waitFor()
        assert.deepEqual((await callsOf(page, 'usage_history')).at(-1).args, { from: '2026-06-15', to: '2026-07-14', by: 'day' })
      },
    )
  })

  it('goes back to every network when the chosen one carried nothing in the range', async () => {
    // December 2025 was before the phone's hotspot was ever used.
    await withApp({ query: '?view=history&range=2025-12&network=wifi%3AiPhone' }, async (page) => {
      await until(async () => (await search(page)) === '?view=history&range=2025-12', 'the network to be let go')
      await page.locator('#view-history[aria-busy="false"]').waitFor()
      assert.deepEqual((await callsOf(page, 'usage_history')).at(-1).args, { from: '2025-12-01', to: '2025-12-31', by: 'day' })
      assert.deepEqual(await options(page), [
        ['', 'All networks'],
        ['wifi:Home', 'Home'],
      ])
      assert.equal(await page.locator('#usage-network').inputValue(), '')
      assert.deepEqual((await networkRows(page)).map((r) => r[1]), ['wifi:Home'])
      await page.locator('#usage-apps tr[data-app="Slack"]').waitFor()
    })
  })

  it('says when no network is known in the range', async () => {
    await withApp({ query: '?view=history', scenario: { usage: 'empty' } }, async (page) => {
      await page.locator('#view-history[aria-busy="false"]').waitFor()
      assert.equal(await text(page, '#usage-networks tbody'), 'No network recorded in this range')
      assert.equal(await page.locator('#usage-network').isDisabled(), true)
    })
  })

  it('follows the network in use in nbi://status, and says nothing of it when it is unknown', async () => {
    await withApp({ scenario: { network: ON_PHONE, plans: PLANS } }, async (page) => {
      await page.locator('#network').waitFor({ state: 'visible' })
      const status = (network) => ({
        state: 'watching',
        reason: null,
        last_tick: '2026-07-14T13:32:00Z',
        source: 'nettop',
        host: 'mbp',
        grafana_url: null,
        plan: PLANS[0],
        plans: PLANS,
        ...(network ? { network } : {}),
      })
      await page.evaluate((s) => window.nbiMock.emit('nbi://status', s), status({ id: 'wifi:Home', name: 'Home', metered: false }))
      await until(async () => (await text(page, '#network')) === 'On Home', 'the network to change')
      assert.equal(await text(page, '#plan .plan-line .plan-label'), 'Home')
      assert.equal(await text(page, '#plan .plan-others .plan-label'), 'Phone')
      await page.evaluate((s) => window.nbiMock.emit('nbi://status', s), status(null))
      await page.locator('#network').waitFor({ state: 'hidden' })
      assert.equal(await page.locator('#plan').isVisible(), true)
    })
  })

  it('is absent without a network or a plan', async () => {
    await withApp({ scenario: { network: null } }, async (page) => {
      assert.match(await text(page, '#status .status-text'), /^Watching/)
      assert.equal(await page.locator('#network').isHidden(), true)
      assert.equal(await page.locator('#plan').isHidden(), true)
    })
  })
})
