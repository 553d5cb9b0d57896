import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

// The IPC mock for the browser tests, built as one classic script that the
// tests inject before the app starts. It never goes into dist.
export default defineConfig({
  build: {
    outDir: 'test-output/mock',
    emptyOutDir: true,
    target: 'es2021',
    minify: false,
    lib: {
      entry: fileURLToPath(new URL('./tests/browser/mock.ts', import.meta.url)),
      name: 'nbiMockBundle',
      formats: ['iife'],
      fileName: () => 'mock.js',
    },
  },
})
