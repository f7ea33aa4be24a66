import { readFileSync } from 'node:fs';
import { defineConfig } from 'vite';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>;
};
const dependencies = Object.keys(pkg.dependencies);

// `vite build` makes the library bundle in dist/: ES modules in which every WGSL
// source is inlined as a string (imported with `?raw`), so the same index.js
// runs in browsers and in Node, plus dist/cli.js, the `metagrad` command.
// Dependencies (Dawn's binding among them) stay external.
export default defineConfig({
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    minify: false,
    lib: {
      entry: { index: 'index.ts', cli: 'cli/bin.ts' },
      formats: ['es'],
    },
    rollupOptions: {
      external: [...dependencies, ...dependencies.map((name) => new RegExp(`^${name}/`)), /^node:/],
      output: {
        banner: (chunk) => (chunk.name === 'cli' ? '#!/usr/bin/env node' : ''),
      },
    },
  },
});
