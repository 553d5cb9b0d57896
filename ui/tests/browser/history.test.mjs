// The History view in real Chromium, IPC mocked.
// The mock's today is Tue 14 Jul 2026 and the page's clock is pinned to it;
// its traffic (tests/browser/mock.ts) is in round MB per app and day, so the
// totals below are added up by hand:
//
//   8–14 Jul, in/out MB    Wed–Fri, Mon–Tue   Sat 11   Sun 12
//   Slack                  400 / 100          off      –
//   Safari                 300 / 20           off      300 / 20
//   Zoom                   200 / 150          off      –
//   Spotify                100 / 1            off      100 / 1
//   Dropbox                 20 / 80           off       20 / 80
//   Mail                    50 / 10           off       50 / 10
//   Signal                   5 / 5            off        5 / 5
//   Transmission           –                  off      4000 / 2000
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { appSuite, callsOf, canvasHash, inkedPixels, SHOTS, text, until, waitForCall } from './harness.mjs'

const withApp = appSuite()
const search = (page) => page.evaluate(() => location.search)

const WEEK = { from: '2026-07-08', to: '2026-07-14', by: 'day' }

/** The table as text: one array of cells per row, the app name first. */
async function table(page, part = 'tbody') {
  return page.evaluate(
    (p) =>
      [...document.querySelectorAll(`#usage-apps ${p} tr`)].map((tr) =>
        [...tr.children].map((c) => c.textContent.trim()),
      ),
    part,
  )
}

/**
 * Inked pixels down the middle of each of `n` bars, inside the plot area:
 * the bar's height in pixels, give or take the grid lines it crosses.
 */
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

/** Where bar `i` of `n` is, `height` of the way up the plot, in page coordinates. */
async function barPoint(page, i, n, height) {
  const box = await page.locator('#bars .u-over').boundingBox()
  return { x: box.x + (box.width * (i + 0.5)) / n, y: box.y + box.height * (1 - height) }
}

async function hoverBar(page, i, n, height) {
  const { x, y } = await barPoint(page, i, n, height)
  await page.mouse.move(x, y)
  const tip = page.locator('#bars .tip')
  await tip.waitFor({ state: 'visible' })
  return tip.innerText()
}

async function openHistory(page) {
  await page.getByRole('tab', { name: 'History' }).click()
  await waitForCall(page, 'usage_history', WEEK)
  await page.locator('#view-history[aria-busy="false"]').waitFor()
}

describe('the History view', () => {
  it('opens from its tab on the last 7 days, a bar per day, empty days kept', async () => {
    await withApp({}, async (page) => {
      await openHistory(page)
      // Asked once, for all apps: no app argument at all.
      assert.deepEqual(
        (await callsOf(page, 'usage_history')).map((c) => c.args),
        [WEEK],
      )
      assert.equal(await page.getByRole('tab', { name: 'History' }).getAttribute('aria-selected'), 'true')
      assert.equal(await page.getByRole('tab', { name: 'Today' }).getAttribute('aria-selected'), 'false')
      assert.equal(await page.locator('#view-today').isHidden(), true)
      assert.equal(await search(page), '?view=history&range=7d')
      assert.equal(await page.getByRole('button', { name: '7 days' }).getAttribute('aria-pressed'), 'true')
      assert.equal(await text(page, '.usage-span'), '8–14 Jul 2026')

      assert.ok((await inkedPixels(page, '#bars canvas')) > 2000, 'the bars are drawn')
      const [wed, thu, fri, sat, sun, mon, tue] = await barHeights(page, 7)
      // Saturday had no rows: its bar is empty, but its place on the axis stays.
      assert.ok(sat < 6, `Saturday's column has ${sat} inked pixels`)
      for (const workday of [thu, fri, mon, tue]) assert.ok(Math.abs(workday - wed) <= 2, `${workday} vs ${wed}`)
      // Sunday downloads 4475 MB, a workday 1075 MB.
      assert.ok(sun / wed > 3.6 && sun / wed < 4.7, `Sunday ${sun} px against a workday's ${wed} px`)
    })
  })

  it('lists the top apps with their totals and shares of the range', async () => {
    await withApp({ query: '?view=history' }, async (page) => {
      await page.locator('#usage-apps tbody tr.app').first().waitFor()
      assert.deepEqual(await table(page, 'thead'), [['App', 'Down', 'Up', 'Total', 'Share']])
      // 13 796 MB in all: Transmission's 6000 MB is 43 %.
      assert.deepEqual(await table(page), [
        ['Transmission', '4.0 GB', '2.0 GB', '6.0 GB', '43 %'],
        ['Slack', '2.0 GB', '500 MB', '2.5 GB', '18 %'],
        ['Safari', '1.8 GB', '120 MB', '1.9 GB', '14 %'],
        ['Zoom', '1.0 GB', '750 MB', '1.8 GB', '13 %'],
        ['Spotify', '600 MB', '6.0 MB', '606 MB', '4.4 %'],
        ['Dropbox', '120 MB', '480 MB', '600 MB', '4.3 %'],
        ['Mail', '300 MB', '60 MB', '360 MB', '2.6 %'],
        ['Signal', '30 MB', '30 MB', '60 MB', '0.4 %'],
      ])
      assert.deepEqual(await table(page, 'tfoot'), [['All apps', '9.8 GB', '3.9 GB', '14 GB', '100 %']])
      // Apps keep the Today view's colors; the two below the top six are "Other apps", grey.
      const swatches = await page.evaluate(() =>
        Object.fromEntries(
          [...document.querySelectorAll('#usage-apps tr.app')].map((tr) => [
            tr.dataset.app,
            tr.querySelector('.swatch').style.background,
          ]),
        ),
      )
      const today = await page.evaluate(() =>
        Object.fromEntries(
          [...document.querySelectorAll('#apps li[data-app]')].map((li) => [li.dataset.app, li.querySelector('.swatch').style.background]),
        ),
      )
      for (const app of ['Transmission', 'Slack', 'Safari']) assert.equal(swatches[app], today[app], app)
      assert.equal(swatches.Mail, 'var(--app-other)')
      assert.equal(swatches.Signal, 'var(--app-other)')
      assert.equal(new Set(Object.values(swatches).filter((c) => c !== 'var(--app-other)')).size, 6, 'six colors of their own')
    })
  })

  it('names the app and the day under the pointer', async () => {
    await withApp({ query: '?view=history' }, async (page) => {
      await page.locator('#bars canvas').waitFor()
      // Transmission is Sunday's bottom layer: 4000 of its 4475 MB.
      assert.deepEqual((await hoverBar(page, 4, 7, 0.3)).split('\n'), [
        'Sun 12 Jul',
        'Transmission 4.0 GB',
        'All apps 4.5 GB',
        'Click to open the day',
      ])
      assert.match(await hoverBar(page, 3, 7, 0.1), /^Sat 11 Jul\nNo traffic\n/)
      await page.getByRole('button', { name: 'Upload' }).click()
      assert.equal(await page.getByRole('button', { name: 'Upload' }).getAttribute('aria-pressed'), 'true')
      assert.match(await hoverBar(page, 4, 7, 0.3), /^Sun 12 Jul\nTransmission 2\.0 GB\nAll apps 2\.1 GB\n/)
    })
  })

  it('switches between downloads and uploads', async () => {
    await withApp({ query: '?view=history' }, async (page) => {
      await page.locator('#bars canvas').waitFor()
      const down = await canvasHash(page, '#bars canvas')
      const [wedIn, , , , sunIn] = await barHeights(page, 7)
      await page.getByRole('button', { name: 'Upload' }).click()
      await until(async () => (await canvasHash(page, '#bars canvas')) !== down, 'the bars to redraw')
      // Uploads: a workday 366 MB, Sunday 2116 MB; the axis rescales to them.
      const [wedOut, , , , sunOut] = await barHeights(page, 7)
      assert.ok(sunOut / wedOut > 5 && sunOut / wedOut < 6.6, `Sunday ${sunOut} px against a workday's ${wedOut} px`)
      assert.notEqual(sunOut / wedOut, sunIn / wedIn)
    })
  })

  it('switches the Today view to uploads too, and it shows them when it comes back', async () => {
    await withApp({}, async (page) => {
      const downloads = await canvasHash(page)
      await openHistory(page)
      await page.getByRole('button', { name: 'Upload' }).click()
      await page.getByRole('tab', { name: 'Today' }).click()
      assert.equal(await page.getByRole('button', { name: 'Upload' }).getAttribute('aria-pressed'), 'true')
      await until(async () => (await canvasHash(page)) !== downloads, "the day's chart to show uploads")
      await page.getByRole('button', { name: 'Download' }).click()
      await until(async () => (await canvasHash(page)) === downloads, "the day's chart to show downloads again")
    })
  })

  it('limits the chart to an app from the table, keeps it over a reload, and lets go', async () => {
    await withApp({ query: '?view=history' }, async (page) => {
      await page.locator('#usage-apps tr[data-app="Zoom"]').click()
      await waitForCall(page, 'usage_history', { ...WEEK, app: 'Zoom' })
      await page.locator('#usage-filter').waitFor({ state: 'visible' })
      assert.equal((await text(page, '#usage-filter')).replace(/\s+/g, ' '), 'Only Zoom All apps')
      assert.equal(await page.locator('tr[data-app="Zoom"] .app-pick').getAttribute('aria-pressed'), 'true')
      assert.equal(await search(page), '?view=history&range=7d&app=Zoom')
      // Zoom only runs on workdays: nothing on the weekend, the same every workday.
      await until(async () => (await barHeights(page, 7))[4] < 6, "Sunday's bar to go")
      const heights = await barHeights(page, 7)
      assert.ok(heights[3] < 6 && heights[4] < 6, `weekend ${heights[3]}, ${heights[4]}`)
      for (const i of [0, 1, 2, 5, 6]) assert.ok(heights[i] > 40, `workday ${i}: ${heights[i]} px`)
      await page.screenshot({ path: join(SHOTS, 'light-history-app.png') })
      // The table stays the whole range's: it was not asked for again.
      assert.equal((await callsOf(page, 'usage_history')).filter((c) => !('app' in c.args)).length, 1)
      assert.equal((await table(page)).length, 8)

      await page.reload()
      await page.waitForSelector('body[data-ready="true"]')
      assert.equal(await page.getByRole('tab', { name: 'History' }).getAttribute('aria-selected'), 'true')
      await page.locator('#usage-filter').waitFor({ state: 'visible' })
      assert.deepEqual(
        (await callsOf(page, 'usage_history')).map((c) => c.args),
        [WEEK, { ...WEEK, app: 'Zoom' }],
      )

      await page.getByRole('button', { name: 'All apps' }).click()
      await page.locator('#usage-filter').waitFor({ state: 'hidden' })
      assert.equal(await search(page), '?view=history&range=7d')
      assert.equal(await page.locator('tr[data-app="Zoom"] .app-pick').getAttribute('aria-pressed'), 'false')
      await until(async () => (await barHeights(page, 7))[4] > 60, "Sunday's bar to come back")
    })
  })

  it('lists where a chosen app sent and received, named, and hides it for all apps', async () => {
    await withApp({ query: '?view=history' }, async (page) => {
      assert.equal(await page.locator('#usage-destinations').isHidden(), true)
      await page.locator('#usage-apps tr[data-app="Safari"]').click()
      await waitForCall(page, 'destinations', { from: WEEK.from, to: WEEK.to, app: 'Safari' })
      await page.locator('#usage-destinations tbody td.destination').first().waitFor()
      const rows = await page.evaluate(() =>
        [...document.querySelectorAll('#usage-destinations tbody tr')].map((tr) =>
          [...tr.children].map((c) => c.textContent.trim()),
        ),
      )
      assert.deepEqual(rows, [
        ['Example Cloud (US)', '800 MB', '40 MB'],
        ['Example Video (DE)', '300 MB', '10 MB'],
        ['local network', '2.0 MB', '1.0 MB'],
      ])
      assert.equal(
        await page.locator('#usage-destinations tbody td.destination').first().getAttribute('title'),
        '192.0.2.10 (edge.example.net)',
      )
      assert.equal(await text(page, '#usage-destinations caption'), 'Where Safari sent and received')
      await page.getByRole('button', { name: 'All apps' }).click()
      await page.locator('#usage-destinations').waitFor({ state: 'hidden' })
    })
  })

  it('opens a day from its bar in the Today view', async () => {
    await withApp({ query: '?view=history' }, async (page) => {
      await page.locator('#bars canvas').waitFor()
      const { x, y } = await barPoint(page, 4, 7, 0.2)
      await page.mouse.click(x, y)
      await waitForCall(page, 'day_curve', { day: '2026-07-12' })
      assert.equal(await page.getByRole('tab', { name: 'Today' }).getAttribute('aria-selected'), 'true')
      assert.equal(await page.locator('#view-history').isHidden(), true)
      assert.equal(await text(page, '#day-label'), 'Sun 12 Jul')
      assert.equal(await search(page), '?day=2026-07-12')
    })
  })

  it('shows twelve months, empty ones included, and opens a month by day', async () => {
    await withApp({ query: '?view=history' }, async (page) => {
      await page.getByRole('button', { name: '12 months' }).click()
      await waitForCall(page, 'usage_history', { from: '2025-08-01', to: '2026-07-14', by: 'month' })
      await until(async () => (await text(page, '.usage-span')) === 'Aug 2025 – Jul 2026', 'the months title')
      assert.equal(await search(page), '?view=history&range=12m')
      await page.locator('#view-history[aria-busy="false"]').waitFor()
      // Recording started in October: August and September stay on the axis, empty.
      const heights = await barHeights(page, 12)
      assert.ok(heights[0] < 6 && heights[1] < 6, `Aug ${heights[0]}, Sep ${heights[1]}`)
      for (let i = 3; i < 11; i++) assert.ok(heights[i] > 40, `month ${i}: ${heights[i]} px`)
      assert.match(await hoverBar(page, 10, 12, 0.1), /^June 2026\n.*\nClick for its days$/s)

      const { x, y } = await barPoint(page, 10, 12, 0.1)
      await page.mouse.click(x, y)
      await waitForCall(page, 'usage_history', { from: '2026-06-01', to: '2026-06-30', by: 'day' })
      await until(async () => (await text(page, '.usage-span')) === 'June 2026', 'the month title')
      assert.equal(await search(page), '?view=history&range=2026-06')
      for (const name of ['7 days', '30 days', '12 months']) {
        assert.equal(await page.getByRole('button', { name, exact: true }).getAttribute('aria-pressed'), 'false')
      }
      await page.locator('#view-history[aria-busy="false"]').waitFor()
      // 20 and 21 June were off; the 30 days of June are all on the axis.
      const june = await barHeights(page, 30)
      assert.ok(june[19] < 6 && june[20] < 6, `20 Jun ${june[19]}, 21 Jun ${june[20]}`)
      assert.ok(june[0] > 10 && june[29] > 10)
      await page.screenshot({ path: join(SHOTS, 'light-history-month.png') })

      await page.getByRole('button', { name: '‹ 12 months' }).click()
      await until(async () => (await search(page)) === '?view=history&range=12m', 'the way back to the months')
    })
  })

  it('exports the range shown as CSV', async () => {
    await withApp({ query: '?view=history&range=30d' }, async (page) => {
      await page.getByRole('button', { name: 'Export…' }).click()
      assert.equal(await page.getByRole('button', { name: 'Export…' }).getAttribute('aria-expanded'), 'true')
      await page.getByRole('menuitem', { name: /CSV/ }).click()
      await waitForCall(page, 'export_range', { from: '2026-06-15', to: '2026-07-14', format: 'csv' })
      assert.deepEqual(
        (await callsOf(page, 'export_range')).map((c) => c.args),
        [{ from: '2026-06-15', to: '2026-07-14', format: 'csv' }],
      )
      await page.locator('#usage-notice').waitFor({ state: 'visible' })
      assert.match(
        await text(page, '#usage-notice .notice-text'),
        /^Exported \d+ rows to \/Users\/me\/Downloads\/nbi_2026-06-15_2026-07-14\.csv$/,
      )
      await page.screenshot({ path: join(SHOTS, 'light-history-export.png') })
      assert.equal(await page.getByRole('menu').isHidden(), true)
      await page.getByRole('button', { name: 'Dismiss' }).click()
      await page.locator('#usage-notice').waitFor({ state: 'hidden' })
    })
  })

  it('exports one app as NDJSON from the keyboard', async () => {
    await withApp({ query: '?view=history&app=Zoom' }, async (page) => {
      await page.getByRole('button', { name: 'Export…' }).focus()
      await page.keyboard.press('ArrowDown')
      assert.equal(await page.evaluate(() => document.activeElement.dataset.format), 'csv')
      await page.keyboard.press('ArrowDown')
      assert.equal(await page.evaluate(() => document.activeElement.dataset.format), 'ndjson')
      await page.keyboard.press('Enter')
      await waitForCall(page, 'export_range', { format: 'ndjson', app: 'Zoom' })
      assert.deepEqual((await callsOf(page, 'export_range'))[0].args, {
        from: '2026-07-08',
        to: '2026-07-14',
        format: 'ndjson',
        app: 'Zoom',
      })
      // Zoom ran on five of the seven days.
      await page.locator('#usage-notice').waitFor({ state: 'visible' })
      assert.equal(
        await text(page, '#usage-notice .notice-text'),
        'Exported 5 rows to /Users/me/Downloads/nbi_2026-07-08_2026-07-14_Zoom.ndjson',
      )
      assert.equal(await page.getByRole('button', { name: 'Export…' }).isEnabled(), true)
    })
  })

  it('says nothing when the save dialog is cancelled, and shows a failed export in the banner', async () => {
    await withApp({ query: '?view=history', scenario: { exportAnswer: 'cancel' } }, async (page) => {
      await page.getByRole('button', { name: 'Export…' }).click()
      await page.getByRole('menuitem', { name: /CSV/ }).click()
      await waitForCall(page, 'export_range', { format: 'csv' })
      await page.getByRole('button', { name: 'Export…' }).waitFor()
      assert.equal(await page.locator('#usage-notice').isHidden(), true)
      assert.equal(await page.locator('#errors').isHidden(), true)

      await page.evaluate(() => {
        window.nbiMock.scenario.reject = { export_range: 'no space left on device' }
      })
      await page.getByRole('button', { name: 'Export…' }).click()
      await page.getByRole('menuitem', { name: /NDJSON/ }).click()
      await page.locator('#errors').waitFor({ state: 'visible' })
      assert.equal(await text(page, '#errors li'), "Couldn't export: no space left on device")
      assert.equal(await page.locator('#usage-notice').isHidden(), true)
    })
  })

  it('closes the export menu with Escape or a click elsewhere', async () => {
    await withApp({ query: '?view=history' }, async (page) => {
      const button = page.getByRole('button', { name: 'Export…' })
      await button.click()
      await page.getByRole('menu').waitFor()
      await page.keyboard.press('Escape')
      await page.getByRole('menu').waitFor({ state: 'hidden' })
      assert.equal(await page.evaluate(() => document.activeElement.id), 'export')
      await button.click()
      await page.getByRole('menu').waitFor()
      await page.locator('.usage-span').click()
      await page.getByRole('menu').waitFor({ state: 'hidden' })
      assert.equal((await callsOf(page, 'export_range')).length, 0)
    })
  })

  it('works from the keyboard: tabs with the arrows, bars with the arrows and Enter', async () => {
    await withApp({}, async (page) => {
      await page.getByRole('tab', { name: 'Today' }).focus()
      await page.keyboard.press('ArrowRight')
      assert.equal(await page.getByRole('tab', { name: 'History' }).getAttribute('aria-selected'), 'true')
      assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-history')
      await waitForCall(page, 'usage_history', WEEK)
      await page.locator('#bars canvas').waitFor()

      await page.locator('#bars').focus()
      await page.keyboard.press('ArrowLeft') // the newest day first
      await page.keyboard.press('ArrowLeft')
      await page.keyboard.press('ArrowLeft')
      assert.match(await text(page, '#bars .tip'), /^Sun 12 Jul\n/)
      // Arrows in the History view never step the Today view's day.
      assert.equal((await callsOf(page, 'day_curve')).some((c) => c.args.day), false)
      await page.keyboard.press('Enter')
      await waitForCall(page, 'day_curve', { day: '2026-07-12' })
      assert.equal(await text(page, '#day-label'), 'Sun 12 Jul')

      await page.getByRole('tab', { name: 'Today' }).focus()
      await page.keyboard.press('End')
      assert.equal(await page.getByRole('tab', { name: 'History' }).getAttribute('aria-selected'), 'true')
      await page.keyboard.press('ArrowLeft')
      assert.equal(await page.getByRole('tab', { name: 'Today' }).getAttribute('aria-selected'), 'true')
      // The tab took the arrow: the day did not change.
      assert.equal(await text(page, '#day-label'), 'Sun 12 Jul')
    })
  })

  it('says so when the range had no traffic', async () => {
    await withApp({ query: '?view=history', scenario: { usage: 'empty' } }, async (page) => {
      await page.locator('#bars .empty').waitFor({ state: 'visible' })
      assert.equal(await text(page, '#bars .empty'), 'No traffic in these days.')
      assert.equal(await text(page, '#usage-apps tbody'), 'No app used the network in these days.')
      // The days are still there, with nothing on them.
      assert.equal(await page.locator('#bars canvas').count(), 1)
      assert.ok((await barHeights(page, 7)).every((h) => h < 6))
    })
  })

  it('shows a range that cannot be loaded in the banner, and nothing misleading', async () => {
    await withApp({ query: '?view=history', scenario: { reject: { usage_history: 'database is locked' } } }, async (page) => {
      await page.locator('#errors').waitFor({ state: 'visible' })
      assert.equal(await text(page, '#errors li'), "Couldn't load the usage history: database is locked")
      assert.equal(await text(page, '#bars .empty'), 'Nothing to show for these days.')
      assert.equal(await page.locator('#bars canvas').count(), 0)
      assert.equal(await page.locator('#usage-apps').isHidden(), true)
    })
  })

  it('says "Loading…" while a range is on its way', async () => {
    await withApp({ query: '?view=history', scenario: { delay: { usage_history: 600 } } }, async (page) => {
      await page.getByRole('button', { name: '30 days' }).click()
      await until(async () => (await text(page, '.usage-span')) === '15 Jun – 14 Jul 2026', 'the new title')
      assert.equal(await page.locator('#view-history').getAttribute('aria-busy'), 'true')
      assert.equal(await text(page, '#bars .empty'), 'Loading…')
      await page.locator('#view-history[aria-busy="false"]').waitFor()
      assert.equal(await page.locator('#bars .empty').isHidden(), true)
    })
  })

  for (const colorScheme of ['light', 'dark']) {
    it(`looks right (${colorScheme})`, async () => {
      await withApp({ query: '?view=history', colorScheme, size: { width: 360, height: 640 } }, async (page) => {
        await page.locator('#bars canvas').waitFor()
        await page.locator('#view-history[aria-busy="false"]').waitFor()
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
        assert.ok(overflow <= 0, `${overflow} px wider than the window`)
        await hoverBar(page, 4, 7, 0.3)
        await page.screenshot({ path: join(SHOTS, `${colorScheme}-history.png`) })
      })
    })
  }

  it('redraws the bars when the system switches to dark', async () => {
    await withApp({ query: '?view=history' }, async (page) => {
      await page.locator('#bars canvas').waitFor()
      const light = await canvasHash(page, '#bars canvas')
      await page.emulateMedia({ colorScheme: 'dark' })
      await until(async () => (await canvasHash(page, '#bars canvas')) !== light, 'the bars to take dark colors')
    })
  })

  it('refetches the range shown on nbi://updated', async () => {
    await withApp({ query: '?view=history&range=30d' }, async (page) => {
      await page.locator('#view-history[aria-busy="false"]').waitFor()
      const before = (await callsOf(page, 'usage_history')).length
      await page.evaluate(() => window.nbiMock.emit('nbi://updated'))
      await until(async () => (await callsOf(page, 'usage_history')).length > before, 'a refetch')
      assert.deepEqual((await callsOf(page, 'usage_history')).at(-1).args, { from: '2026-06-15', to: '2026-07-14', by: 'day' })
    })
  })
})
