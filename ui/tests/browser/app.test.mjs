// The built app in real Chromium, with the tray app's IPC mocked: what a
// person sees and what the app asks the backend for.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { appSuite, callsOf, canvasHash, inkedPixels, SHOTS, text, until, waitForCall } from './harness.mjs'

const withApp = appSuite()

/** Moves the pointer to `hour` o'clock, `height` of the way up the plot, and returns the tooltip. */
async function hoverAt(page, hour, height) {
  const box = await page.locator('#chart .u-over').boundingBox()
  await page.mouse.move(box.x + (box.width * hour) / 24, box.y + box.height * (1 - height))
  const tip = page.locator('#chart .tip')
  await tip.waitFor({ state: 'visible' })
  const at = await tip.boundingBox()
  const { width } = page.viewportSize()
  assert.ok(at.x >= 0 && at.x + at.width <= width, `tooltip at ${at.x}–${at.x + at.width} leaves the ${width} px window`)
  return tip.innerText()
}

describe('the day chart', () => {
  it('draws the mocked curve and names its apps', async () => {
    await withApp({}, async (page) => {
      assert.ok((await inkedPixels(page)) > 5000, 'the chart canvas has drawn data')
      const apps = await page.locator('#apps .app-name').allInnerTexts()
      assert.deepEqual(apps, ['Slack', 'Safari', 'Transmission', 'Mail', 'Other apps'])
      const totals = await page.locator('#apps li').first().innerText()
      assert.match(totals, /↓ \d+(\.\d)? (kB|MB|GB)\s+↑ \d+(\.\d)? (kB|MB|GB)/)
      assert.equal(await text(page, '#day-label'), 'Today')
      // Asked for today, at five-minute resolution, together with its typical day.
      assert.deepEqual((await callsOf(page, 'day_curve'))[0].args, { stepMin: 5 })
      assert.deepEqual((await callsOf(page, 'typical_day'))[0].args, { stepMin: 5 })
    })
  })

  it('shows the app and its bytes under the pointer', async () => {
    await withApp({}, async (page) => {
      // 02:00 is Transmission's night; low in the stack at 10:00 is Slack's working day.
      assert.match(
        await hoverAt(page, 2.1, 0.4),
        /^02:\d\d\s+Transmission \d+(\.\d)? MB\s+All apps \d+(\.\d)? MB, typically \d+(\.\d)? MB$/,
      )
      assert.match(await hoverAt(page, 10.1, 0.02), /^10:\d\d\s+Slack \d+(\.\d)? (kB|MB)/)
      await page.screenshot({ path: join(SHOTS, 'light-hover.png') })
      await page.mouse.move(5, 5)
      await page.locator('#chart .tip').waitFor({ state: 'hidden' })
    })
  })

  it('switches between downloads and uploads', async () => {
    await withApp({}, async (page) => {
      const before = await canvasHash(page)
      const tipIn = await hoverAt(page, 2.1, 0.3)
      await page.getByRole('button', { name: 'Upload' }).click()
      assert.equal(await page.getByRole('button', { name: 'Upload' }).getAttribute('aria-pressed'), 'true')
      assert.equal(await page.getByRole('button', { name: 'Download' }).getAttribute('aria-pressed'), 'false')
      await until(async () => (await canvasHash(page)) !== before, 'the chart to redraw')
      const tipOut = await hoverAt(page, 2.1, 0.3)
      assert.notEqual(tipOut, tipIn)
      assert.match(tipOut, /Transmission \d/)
    })
  })

  it('fetches one-minute slots when asked', async () => {
    await withApp({}, async (page) => {
      await page.getByRole('button', { name: '1m' }).click()
      await waitForCall(page, 'day_curve', { stepMin: 1 })
      await waitForCall(page, 'typical_day', { stepMin: 1 })
      assert.equal(await page.getByRole('button', { name: '1m' }).getAttribute('aria-pressed'), 'true')
      assert.ok((await inkedPixels(page)) > 5000)
    })
  })

  it('moves between days and back to today', async () => {
    await withApp({}, async (page) => {
      await page.getByRole('button', { name: 'Previous day' }).click()
      await waitForCall(page, 'day_curve', { day: '2026-07-13', stepMin: 5 })
      await waitForCall(page, 'verdict', { day: '2026-07-13' })
      assert.equal(await text(page, '#day-label'), 'Mon 13 Jul')
      await page.getByRole('button', { name: 'Previous day' }).click()
      await waitForCall(page, 'day_curve', { day: '2026-07-12' })
      assert.equal(await text(page, '#day-label'), 'Sun 12 Jul')
      await page.getByRole('button', { name: 'Next day' }).click()
      assert.equal(await text(page, '#day-label'), 'Mon 13 Jul')
      await page.getByRole('button', { name: 'Today', exact: true }).click()
      assert.equal(await text(page, '#day-label'), 'Today')
      assert.equal(await page.getByRole('button', { name: 'Next day' }).isDisabled(), true)
      await page.keyboard.press('ArrowLeft')
      assert.equal(await text(page, '#day-label'), 'Mon 13 Jul')
      await page.keyboard.press('ArrowRight')
      assert.equal(await text(page, '#day-label'), 'Today')
    })
  })

  it('opens on the day named in the address', async () => {
    await withApp({ query: '?day=2026-07-12' }, async (page) => {
      assert.equal(await text(page, '#day-label'), 'Sun 12 Jul')
      assert.deepEqual((await callsOf(page, 'day_curve'))[0].args, { day: '2026-07-12', stepMin: 5 })
      assert.deepEqual((await callsOf(page, 'verdict'))[0].args, { day: '2026-07-12' })
    })
  })

  it('opens a recent day from the list', async () => {
    await withApp({}, async (page) => {
      await page.locator('.history-entry[data-day="2026-07-10"]').click()
      await waitForCall(page, 'day_curve', { day: '2026-07-10' })
      assert.equal(await text(page, '#day-label'), 'Fri 10 Jul')
      assert.equal(await page.locator('.history-entry[data-day="2026-07-10"]').getAttribute('aria-current'), 'date')
    })
  })

  it('grows with a larger window', async () => {
    await withApp({ size: { width: 800, height: 600 } }, async (page) => {
      const box = await page.locator('#chart canvas').boundingBox()
      assert.ok(box.width > 700, `canvas is ${box.width} px wide`)
    })
  })
})

const STATES = {
  normal: { title: 'Normal day', body: 'Mon 13 Jul · workday' },
  anomalous: { title: 'Unusual day', body: 'Transmission 03:00–04:00: 30 GB, typically 595 kB' },
  learning: { title: 'Learning your rhythm: day 3 of 7', body: '7 workdays' },
  insufficient_data: { title: 'Not enough data for Mon 13 Jul', body: '14 hours uncollected' },
  none: { title: 'No day judged yet', body: 'after the first full day' },
}

describe('the verdict card', () => {
  for (const [kind, want] of Object.entries(STATES)) {
    for (const colorScheme of ['light', 'dark']) {
      it(`shows ${kind} (${colorScheme})`, async () => {
        await withApp({ scenario: { verdict: kind }, colorScheme }, async (page) => {
          assert.equal(await text(page, '#verdict h2'), want.title)
          assert.ok((await text(page, '#verdict')).includes(want.body))
          assert.equal(await page.locator('#verdict').getAttribute('data-status'), kind)
          const markButton = page.getByRole('button', { name: 'This was normal' })
          assert.equal(await markButton.count(), kind === 'anomalous' ? 1 : 0)
          if (kind === 'learning') assert.equal((await callsOf(page, 'learning')).length, 1)
          await page.screenshot({ path: join(SHOTS, `${colorScheme}-${kind}.png`) })
        })
      })
    }
  }

  it('marks an unusual day as normal', async () => {
    await withApp({ scenario: { verdict: 'anomalous' } }, async (page) => {
      await page.getByRole('button', { name: 'This was normal' }).click()
      await waitForCall(page, 'mark_normal', { day: '2026-07-13' })
      await page.getByText('You marked this day as normal.').waitFor()
      assert.equal(await page.getByRole('button', { name: 'This was normal' }).count(), 0)
      assert.deepEqual(
        (await callsOf(page, 'mark_normal')).map((c) => c.args),
        [{ day: '2026-07-13' }],
      )
    })
  })

  it('starts a new normal from an unusual day', async () => {
    await withApp({ scenario: { verdict: 'anomalous' } }, async (page) => {
      await page.getByRole('button', { name: 'This is my new normal' }).click()
      await waitForCall(page, 'new_normal', { day: '2026-07-13' })
      await page.getByText('You said this is your new normal from').waitFor()
      assert.equal(await page.getByRole('button', { name: 'This was normal' }).count(), 0)
      assert.equal(await page.getByRole('button', { name: 'This is my new normal' }).count(), 0)
      assert.equal((await callsOf(page, 'mark_normal')).length, 0)
    })
  })

  it('checks now, busy until the answer comes, then shows it', async () => {
    await withApp({ scenario: { verdict: 'normal', delay: { check_now: 400 } } }, async (page) => {
      assert.equal(await text(page, '#verdict h2'), 'Normal day')
      await page.getByRole('button', { name: 'Check now' }).click()
      const busy = page.getByRole('button', { name: 'Checking…' })
      await busy.waitFor()
      assert.equal(await busy.isDisabled(), true)
      await page.locator('#verdict[data-status="anomalous"]').waitFor()
      assert.equal(await text(page, '#verdict h2'), 'Unusual day')
      assert.equal((await callsOf(page, 'check_now')).length, 1)
      assert.equal(await page.getByRole('button', { name: 'Check now' }).isEnabled(), true)
    })
  })

  it('says so when a check fails', async () => {
    await withApp({ scenario: { reject: { check_now: 'the model is still training' } } }, async (page) => {
      await page.getByRole('button', { name: 'Check now' }).click()
      await page.locator('#verdict .error-line').waitFor()
      assert.equal(await text(page, '#verdict .error-line'), 'Check failed: the model is still training')
    })
  })
})

describe('the status line', () => {
  it('pauses and resumes watching', async () => {
    await withApp({}, async (page) => {
      assert.match(await text(page, '#status .status-text'), /^Watching · last tick 15:31$/)
      await page.getByRole('button', { name: 'Pause' }).click()
      await waitForCall(page, 'pause')
      await page.getByRole('button', { name: 'Resume' }).waitFor()
      assert.match(await text(page, '#status .status-text'), /^Paused/)
      await page.getByRole('button', { name: 'Resume' }).click()
      await waitForCall(page, 'resume')
      await page.getByRole('button', { name: 'Pause' }).waitFor()
      assert.match(await text(page, '#status .status-text'), /^Watching/)
    })
  })

  it('shows a failing source with its reason', async () => {
    await withApp({ scenario: { state: 'failing' } }, async (page) => {
      assert.match(await text(page, '#status .status-text'), /^Source failing: nettop exited with status 1/)
      await page.screenshot({ path: join(SHOTS, 'light-failing.png') })
    })
  })
})

describe('errors', () => {
  it('shows a failed command in a banner, and the rest of the window still works', async () => {
    await withApp({ scenario: { reject: { day_curve: 'database is locked' } } }, async (page) => {
      const banner = page.locator('#errors')
      await banner.waitFor({ state: 'visible' })
      assert.equal(await text(page, '#errors li'), "Couldn't load the day's traffic: database is locked")
      assert.equal(await text(page, '#verdict h2'), 'Normal day')
      assert.equal(await text(page, '#chart .empty'), 'Nothing to show for this day.')
      assert.equal(await page.locator('#chart canvas').count(), 0)
      await page.screenshot({ path: join(SHOTS, 'light-error.png') })
      await page.getByRole('button', { name: 'Dismiss' }).click()
      await banner.waitFor({ state: 'hidden' })
    })
  })

  it('clears the banner once the command works again', async () => {
    await withApp({ scenario: { reject: { pause: 'permission denied' } } }, async (page) => {
      await page.getByRole('button', { name: 'Pause' }).click()
      await page.locator('#errors').waitFor({ state: 'visible' })
      assert.match(await text(page, '#errors'), /Couldn't pause watching: permission denied/)
      await page.evaluate(() => {
        delete window.nbiMock.scenario.reject.pause
      })
      await page.getByRole('button', { name: 'Pause' }).click()
      await page.locator('#errors').waitFor({ state: 'hidden' })
      await page.getByRole('button', { name: 'Resume' }).waitFor()
    })
  })
})

describe('backend events', () => {
  it('follows nbi://status, nbi://show-day and nbi://updated', async () => {
    await withApp({}, async (page) => {
      await page.evaluate(() =>
        window.nbiMock.emit('nbi://status', {
          state: 'failing',
          reason: 'disk full',
          last_tick: null,
          source: 'nettop',
          host: 'mbp',
          grafana_url: null,
        }),
      )
      await page.getByText('Source failing: disk full').waitFor()

      await page.evaluate(() => window.nbiMock.emit('nbi://show-day', '2026-07-10'))
      await waitForCall(page, 'day_curve', { day: '2026-07-10' })
      assert.equal(await text(page, '#day-label'), 'Fri 10 Jul')

      await page.getByRole('button', { name: 'Today', exact: true }).click()
      const counts = async () =>
        Promise.all(['day_curve', 'status', 'verdict', 'history'].map(async (c) => (await callsOf(page, c)).length))
      const [curves, statuses, verdicts, histories] = await counts()
      await page.evaluate(() => window.nbiMock.emit('nbi://updated'))
      await until(async () => {
        const [c, s, v, h] = await counts()
        return c > curves && s > statuses && v > verdicts && h > histories
      }, 'a refresh after nbi://updated')
      assert.match(await text(page, '#status .status-text'), /^Watching/)
    })
  })

  it('works without the event plugin', async () => {
    await withApp({ scenario: { noEvents: true } }, async (page) => {
      assert.ok((await inkedPixels(page)) > 5000)
      assert.equal(await text(page, '#verdict h2'), 'Normal day')
      assert.equal(await page.locator('#errors').isHidden(), true)
    })
  })
})

describe('appearance', () => {
  const luminance = (rgb) => {
    const [r, g, b] = rgb.match(/\d+/g).map(Number)
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
  }

  it('follows the system light or dark setting', async () => {
    const backgrounds = {}
    for (const colorScheme of ['light', 'dark']) {
      await withApp({ colorScheme }, async (page) => {
        backgrounds[colorScheme] = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)
      })
    }
    assert.ok(luminance(backgrounds.light) > 0.8, `light background ${backgrounds.light}`)
    assert.ok(luminance(backgrounds.dark) < 0.2, `dark background ${backgrounds.dark}`)
  })

  it('redraws the chart when the system switches to dark', async () => {
    await withApp({ colorScheme: 'light' }, async (page) => {
      const light = await canvasHash(page)
      await page.emulateMedia({ colorScheme: 'dark' })
      await until(async () => (await canvasHash(page)) !== light, 'the chart to take dark colors')
    })
  })

  it('fits a 360 × 480 window without sideways scrolling', async () => {
    await withApp({ scenario: { verdict: 'anomalous' } }, async (page) => {
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      assert.ok(overflow <= 0, `${overflow} px wider than the window`)
    })
  })
})
