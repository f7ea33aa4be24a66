import { defineConfig } from 'vite';

// `vite build` makes the library bundle in dist/: one ES module in which every
// WGSL source is inlined as a string (imported with `?raw`), so the same file
// runs in browsers and in Node. Node's Dawn binding stays external.
export default defineConfig({
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    minify: false,
    lib: {
      entry: 'index.ts',
      formats: ['es'],
      fileName: 'index',
    },
    rollupOptions: {
      external: ['webgpu', /^node:/],
    },
  },
});
