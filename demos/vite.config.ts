import { resolve } from 'node:path';
import { defineConfig } from 'vite';

const here = import.meta.dirname;
const pages = ['index', 'sinusoid/index', 'explorer/index', 'omniglot/index', 'bench/index'];

// The demos as a multi-page Vite site: `npm run demos` serves them from source,
// `npm run build:demos` writes a static site to dist-demos/ with every script,
// WGSL kernel and asset bundled, so the pages work offline once loaded.
export default defineConfig({
  root: here,
  base: './',
  server: { host: '127.0.0.1', fs: { allow: [resolve(here, '..')] } },
  build: {
    target: 'es2022',
    outDir: resolve(here, '../dist-demos'),
    emptyOutDir: true,
    rollupOptions: {
      input: Object.fromEntries(pages.map((page) => [page, resolve(here, `${page}.html`)])),
    },
  },
});
