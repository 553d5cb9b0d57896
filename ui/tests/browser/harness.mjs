// Serves the built app to a real Chromium with the IPC mock injected, and
// watches for what a person would never see in a passing test: script
// errors, CSP violations and requests that leave the machine.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before } from 'node:test'
import { chromium } from 'playwright-core'

const UI = fileURLToPath(new URL('../..', import.meta.url))
const DIST = join(UI, 'dist')
const MOCK = join(UI, 'test-output', 'mock', 'mock.js')
export const SHOTS = join(UI, 'test-output', 'screenshots')

/** The policy the tray app ships with; the page must run under it unchanged. */
export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src ipc: http://ipc.localhost"

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
}

/** A static server for dist/ on 127.0.0.1 and a free port. */
export async function serveDist() {
  for (const f of [join(DIST, 'index.html'), MOCK]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run "npm run test:browser", which builds it`)
  }
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    const file = resolve(DIST, normalize('.' + (path.endsWith('/') ? path + 'index.html' : path)))
    if (!file.startsWith(DIST + sep) && file !== DIST) {
      res.writeHead(403).end()
      return
    }
    try {
      const body = await readFile(file)
      res.writeHead(200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Content-Security-Policy': CSP,
        'Cache-Control': 'no-store',
      })
      res.end(body)
    } catch {
      res.writeHead(404).end()
    }
  })
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok))
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((ok) => server.close(ok)),
  }
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-sync',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
]

/** Debian's chromium (or $CHROMIUM), with a fresh profile that is removed afterwards. */
export async function launch() {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium'
  if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath}: run scripts/test_ui.sh, or set CHROMIUM`)
  const profile = await mkdtemp(join(tmpdir(), 'nbi-ui-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 360, height: 480 },
    locale: 'en-GB',
    timezoneId: 'Europe/Berlin',
  })
  // A failing wait should fail the test in seconds, not half a minute.
  context.setDefaultTimeout(5000)
  await mkdir(SHOTS, { recursive: true })
  return {
    context,
    close: async () => {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    },
  }
}

/** The mock backend's now: Tuesday 14 July 2026, 15:32 in Berlin. */
export const NOW = '2026-07-14T13:32:00Z'

/**
 * Opens the app with a scenario for the mock and waits until its first
 * answers are drawn. `problems` collects errors, CSP violations and
 * off-machine requests; every test ends by asserting it is empty. The page's
 * clock is pinned to `now` (the mock's), so that no test depends on the day
 * it runs on; timers still run.
 */
export async function openApp(context, baseUrl, { scenario = {}, colorScheme = 'light', query = '', size, now = NOW } = {}) {
  const page = await context.newPage()
  const problems = []
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`)
  })
  page.on('request', (r) => {
    if (!r.url().startsWith(baseUrl)) problems.push(`request off the machine: ${r.url()}`)
  })
  await page.emulateMedia({ colorScheme })
  await page.clock.setFixedTime(new Date(now))
  if (size) await page.setViewportSize(size)
  await page.addInitScript((s) => {
    window.__nbiScenario = s
    window.__cspViolations = []
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`)
    })
  }, scenario)
  await page.addInitScript({ path: MOCK })
  await page.goto(baseUrl + query)
  await page.waitForSelector('body[data-ready="true"]')
  return {
    page,
    async problems() {
      const csp = await page.evaluate(() => window.__cspViolations)
      return [...problems, ...csp.map((v) => `CSP violation: ${v}`)]
    },
  }
}

/** Non-blank pixels in a chart's canvas: drawn data, not just an empty frame. */
export async function inkedPixels(page, selector = '#chart canvas') {
  return page.evaluate((sel) => {
    const canvas = document.querySelector(sel)
    if (!canvas) return 0
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height)
    let n = 0
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++
    return n
  }, selector)
}

/** A fingerprint of a chart's pixels, to tell two drawings apart. */
export async function canvasHash(page, selector = '#chart canvas') {
  return page.evaluate((sel) => {
    const canvas = document.querySelector(sel)
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height)
    let h = 2166136261
    for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i], 16777619)
    return h >>> 0
  }, selector)
}

/** The mock's record of calls to one command. */
export function callsOf(page, cmd) {
  return page.evaluate((c) => window.nbiMock.callsOf(c), cmd)
}

/** Waits for a call to `cmd` whose arguments include `args` (compared as JSON values). */
export async function waitForCall(page, cmd, args = {}) {
  await page.waitForFunction(
    ([c, want]) =>
      window.nbiMock
        .callsOf(c)
        .some((call) => Object.entries(want).every(([k, v]) => JSON.stringify(call.args[k]) === JSON.stringify(v))),
    [cmd, args],
  )
}

/** Polls `check` until it holds; fails the test after `timeoutMs`. */
export async function until(check, what, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/**
 * Serves the built app and starts Chromium before the calling file's tests,
 * and stops both after them. Returns `withApp(options, body)`: opens the
 * app (see `openApp`), runs `body(page)`, then checks nothing went wrong
 * behind the scenes.
 */
export function appSuite() {
  let server
  let browser
  before(async () => {
    server = await serveDist()
    browser = await launch()
  })
  after(async () => {
    await browser?.close()
    await server?.close()
  })
  return async function withApp(options, body) {
    const app = await openApp(browser.context, server.url, options)
    try {
      await body(app.page)
      assert.deepEqual(await app.problems(), [])
    } finally {
      await app.page.close()
    }
  }
}

/** The text an element shows. */
export const text = (page, selector) => page.locator(selector).innerText()
