import { defineConfig } from 'vitest/config'

// Unit tests: DOM rendering and pure math, in happy-dom. The browser tests
// (tests/browser) run separately against the built app in Chromium.
export default defineConfig({
  test: {
    environment: 'happy-dom',
    include: ['tests/unit/**/*.test.ts'],
  },
})
