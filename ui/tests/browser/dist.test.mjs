// What the tray app ships: a bundle that runs under its strict CSP, loads
// nothing from the network and carries no test code.
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const DIST = fileURLToPath(new URL('../../dist', import.meta.url))

async function files(dir) {
  const out = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name)
    out.push(...(e.isDirectory() ? await files(path) : [path]))
  }
  return out
}

describe('the production bundle', () => {
  it('has no inline script or event handler, and loads its assets relatively', async () => {
    const html = await readFile(join(DIST, 'index.html'), 'utf8')
    const scripts = html.match(/<script\b[^>]*>/g) ?? []
    assert.ok(scripts.length > 0)
    for (const tag of scripts) assert.match(tag, /\bsrc="\.\/assets\/[^"]+\.js"/)
    assert.doesNotMatch(html, /<script\b[^>]*>\s*[^<\s]/, 'no inline script body')
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handler')
    for (const ref of html.match(/\b(?:src|href)="[^"]*"/g) ?? []) {
      assert.match(ref, /="(\.\/|data:)/, `${ref} is relative`)
    }
  })

  it('reaches for nothing off the machine and evaluates no strings', async () => {
    for (const file of await files(DIST)) {
      const text = await readFile(file, 'utf8')
      const remote = (text.match(/(?:https?:)?\/\/[a-z0-9-]+(?:\.[a-z0-9-]+)+/gi) ?? []).filter(
        (u) => !/\/\/www\.w3\.org$/.test(u),
      )
      assert.deepEqual(remote, [], `${file} names remote hosts`)
      assert.doesNotMatch(text, /\beval\(|new Function\(/, `${file} evaluates strings`)
    }
  })

  it('carries no IPC mock', async () => {
    for (const file of await files(DIST)) {
      assert.doesNotMatch(await readFile(file, 'utf8'), /mockIPC|nbiMock|__nbiScenario|shouldMockEvents/, file)
    }
  })
})
