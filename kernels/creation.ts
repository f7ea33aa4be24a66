// Launchers for fill.wgsl: constants, ranges, identity matrices and random draws.

import source from './wgsl/fill.wgsl?raw';
import { Kernel, grid } from './kernel';

const kernel = new Kernel('fill', source);
const WORKGROUP = 64;

export interface FillTarget {
  out: GPUBuffer;
  n: number;
  isInt: boolean;
}

// Reused constants objects, so the kernel finds its pipeline by identity.
const FLOAT_OUTPUT = { IS_INT: 0 };
const INT_OUTPUT = { IS_INT: 1 };

function launch(
  op: string,
  entry: string,
  target: FillTarget,
  uniforms: Record<string, number>,
): void {
  kernel.dispatch({
    op,
    entry,
    buffers: { out: target.out },
    uniforms: { n: target.n, ...uniforms },
    constants: target.isInt ? INT_OUTPUT : FLOAT_OUTPUT,
    workgroups: grid(Math.ceil(target.n / WORKGROUP)),
  });
}

export function fillConstant(target: FillTarget, value: number): void {
  launch('full', 'full', target, { value });
}

/** Writes start + i * step for i in [0, n). */
export function fillRange(target: FillTarget, start: number, step: number): void {
  launch('arange', 'arange', target, { value: start, step });
}

export function fillEye(target: FillTarget, cols: number): void {
  launch('eye', 'eye', target, { cols });
}

/** Writes uniform draws in [low, high) from counters offset .. offset + n - 1 of the stream `seed`. */
export function fillUniform(
  target: FillTarget,
  seed: number,
  offset: number,
  low: number,
  high: number,
): void {
  launch('rand', 'rand', target, { seed, offset, low, high });
}

/** Writes mean + std * N(0, 1) draws from counters offset .. offset + 2n - 1 of the stream `seed`. */
export function fillNormal(
  target: FillTarget,
  seed: number,
  offset: number,
  mean: number,
  std: number,
): void {
  launch('randn', 'randn', target, { seed, offset, low: mean, high: std });
}
