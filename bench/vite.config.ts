import { defineConfig } from 'vite';
import base from '../vite.config';

// Builds bench/maml.ts into dist/bench/ with the library build's settings (WGSL
// inlined, dependencies external), so Node can run it.
export default defineConfig({
  ...base,
  build: {
    ...base.build,
    outDir: 'dist/bench',
    emptyOutDir: true,
    sourcemap: false,
    lib: { entry: { maml: 'bench/maml.ts' }, formats: ['es'] },
  },
});
