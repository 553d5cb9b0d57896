import { defineConfig } from 'vite'

// The production bundle: what the tray app loads from ../ui/dist.
export default defineConfig({
  // Relative asset paths: the webview loads the files from its own origin,
  // and the same build also opens from any folder in a browser.
  base: './',
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Tauri's webviews (WebKitGTK, WKWebView, WebView2) are all recent.
    target: 'es2021',
    // Inline data URLs would need more than the CSP allows for scripts and fonts.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
})
