// The measuring part of the kernel benchmark, shared by `npm run bench`
// (bench/kernels.ts, in Node) and the benchmark demo page (in a browser). The
// engine is passed in, so this file runs against the built library and the
// sources alike.

import type * as Metagrad from '../index';

type Engine = typeof Metagrad;
type Tensor = Metagrad.Tensor;

export function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Median milliseconds of `run` after `warmup` runs; `run` resolves when the GPU
 * is done. Passes the figure to `log` under `label`, so a long run shows progress.
 */
export async function timeMs(
  label: string,
  run: () => Promise<void>,
  repetitions: number,
  warmup: number,
  log: (line: string) => void = (line) => console.error(line),
): Promise<number> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < repetitions; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  const result = median(times);
  log(`${label}: ${result.toFixed(2)} ms`);
  return result;
}

/** Times one metagrad computation, from a synced GPU to a synced GPU, disposing its outputs. */
export function metagradRun(mg: Engine, compute: () => Tensor | (Tensor | null)[]) {
  return async () => {
    await mg.sync();
    const out = compute();
    await mg.sync();
    for (const t of Array.isArray(out) ? out : [out]) t?.dispose();
  };
}

/** Returns GFLOP/s of `flops` operations done in `ms` milliseconds. */
export const gflops = (flops: number, ms: number) => flops / ms / 1e6;

/** Multiply-adds of a stride-1 conv2d counted as 2 FLOPs each: 2·N·Cout·Hout·Wout·Cin·kH·kW. */
export function convFlops(x: number[], w: number[], padding: number): number {
  const [n, cin, h, width] = x;
  const [cout, , kh, kw] = w;
  const hOut = h + 2 * padding - kh + 1;
  const wOut = width + 2 * padding - kw + 1;
  return 2 * n * cout * hOut * wOut * cin * kh * kw;
}

export interface KernelSizes {
  matmul: number;
  conv: { name: string; x: number[]; w: number[] }[];
  padding: number;
  pairwise: { rows: number; cols: number; dim: number };
}

export interface KernelCase {
  name: string;
  flops: number;
  /** Allocates the inputs and returns the timed computation and a cleanup. */
  prepare(): { run: () => Promise<void>; dispose: () => void };
}

/** Returns the engine's kernels as benchmark cases: matmul, conv2d's three passes per layer, pairwise distances. */
export function kernelCases(mg: Engine, sizes: KernelSizes): KernelCase[] {
  const n = sizes.matmul;
  const cases: KernelCase[] = [
    {
      name: `matmul ${n}x${n}x${n}`,
      flops: 2 * n ** 3,
      prepare() {
        const a = mg.randn([n, n]);
        const b = mg.randn([n, n]);
        return {
          run: metagradRun(mg, () => mg.matmul(a, b)),
          dispose: () => [a, b].forEach((t) => t.dispose()),
        };
      },
    },
  ];
  const options = { stride: 1, padding: sizes.padding };
  for (const layer of sizes.conv) {
    const flops = convFlops(layer.x, layer.w, sizes.padding);
    cases.push({
      name: `conv2d ${layer.name} forward`,
      flops,
      prepare() {
        const x = mg.randn(layer.x);
        const w = mg.randn(layer.w);
        return {
          run: metagradRun(mg, () => mg.conv2d(x, w, undefined, options)),
          dispose: () => [x, w].forEach((t) => t.dispose()),
        };
      },
    });
    for (const pass of ['input gradient', 'weight gradient'] as const) {
      cases.push({
        name: `conv2d ${layer.name} ${pass}`,
        flops,
        prepare() {
          const x = mg.randn(layer.x, { requiresGrad: true });
          const w = mg.randn(layer.w, { requiresGrad: true });
          const y = mg.conv2d(x, w, undefined, options);
          const g = mg.randn(y.shape);
          const input = pass === 'input gradient' ? x : w;
          return {
            run: metagradRun(mg, () => mg.grad(y, input, { gradOutputs: g, retainGraph: true })),
            dispose: () => [x, w, y, g].forEach((t) => t.dispose()),
          };
        },
      });
    }
  }
  const { rows, cols, dim } = sizes.pairwise;
  cases.push({
    name: `pairwise squared distances ${rows}x${cols}x${dim}`,
    // Each of the rows * cols distances takes dim subtractions, squares and additions.
    flops: 3 * rows * cols * dim,
    prepare() {
      const a = mg.randn([rows, dim]);
      const b = mg.randn([cols, dim]);
      return {
        run: metagradRun(mg, () => mg.pairwiseSquaredEuclidean(a, b)),
        dispose: () => [a, b].forEach((t) => t.dispose()),
      };
    },
  });
  return cases;
}
