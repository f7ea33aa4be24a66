import { configDefaults, defineConfig } from 'vitest/config';

// One WebGPU device per test file; files run one at a time because lavapipe
// already spreads each dispatch over every core.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, '.worktrees/**', 'scratch/**', 'dist/**'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
