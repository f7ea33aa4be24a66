import { defineConfig } from 'vite';
import base from '../vite.config';

// Builds the bench scripts (maml.ts, metric.ts) into dist/bench/ with the library build settings
// (WGSL inlined, dependencies external), so Node can run them.
export default defineConfig({
  ...base,
  build: {
    ...base.build,
    outDir: 'dist/bench',
    emptyOutDir: true,
    sourcemap: false,
    lib: {
      entry: { maml: 'bench/maml.ts', metric: 'bench/metric.ts', profile: 'bench/profile.ts' },
      formats: ['es'],
    },
  },
});
