import { readFileSync } from 'node:fs';
import { defineConfig } from 'vite';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>;
};
const dependencies = Object.keys(pkg.dependencies);

// Builds bench/metric.ts into dist/bench/metric.js, with the WGSL sources
// inlined as the library build inlines them, because tsx cannot load `?raw` imports.
export default defineConfig({
  build: {
    target: 'es2022',
    outDir: 'dist/bench',
    emptyOutDir: true,
    minify: false,
    lib: { entry: { metric: 'bench/metric.ts' }, formats: ['es'] },
    rollupOptions: {
      external: [...dependencies, ...dependencies.map((name) => new RegExp(`^${name}/`)), /^node:/],
    },
  },
});
