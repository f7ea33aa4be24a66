// Launchers for conv.wgsl. Every entry point takes the geometry of one convolution
// x [N, C_in, H, W] (*) w [C_out, C_in / groups, KH, KW] = y [N, C_out, OH, OW].

import source from './wgsl/conv.wgsl?raw';
import { Kernel, grid } from './kernel';

const kernel = new Kernel('conv', source);
const WORKGROUP = 64;
const CHANNEL_BLOCK = 4;
const PIXEL_BLOCK = 4;
const TAP_BLOCK = 4;

/** Invocations the weight gradient aims for before it stops splitting the batch. */
const WEIGHT_GRAD_INVOCATIONS = 4096;

export interface ConvGeometry {
  N: number;
  C_in: number;
  H: number;
  W: number;
  C_out: number;
  OH: number;
  OW: number;
  KH: number;
  KW: number;
  stride: readonly [number, number];
  padding: readonly [number, number];
  dilation: readonly [number, number];
  groups: number;
}

function constants(geo: ConvGeometry): Record<string, number> {
  return {
    KH: geo.KH,
    KW: geo.KW,
    SH: geo.stride[0],
    SW: geo.stride[1],
    DH: geo.dilation[0],
    DW: geo.dilation[1],
  };
}

function uniforms(geo: ConvGeometry, channelsPerGroup: number, innerBlocks: number) {
  return {
    N: geo.N,
    C_in: geo.C_in,
    H: geo.H,
    W: geo.W,
    C_out: geo.C_out,
    OH: geo.OH,
    OW: geo.OW,
    cin_g: geo.C_in / geo.groups,
    cout_g: geo.C_out / geo.groups,
    pad_h: geo.padding[0],
    pad_w: geo.padding[1],
    channel_blocks: Math.ceil(channelsPerGroup / CHANNEL_BLOCK),
    groups: geo.groups,
    inner_blocks: innerBlocks,
  };
}

/** y = conv(x, w) into `out` [N, C_out, OH, OW]. */
export function convForward(
  x: GPUBuffer,
  w: GPUBuffer,
  out: GPUBuffer,
  geo: ConvGeometry,
  op = 'conv2d',
): void {
  const base = uniforms(geo, geo.C_out / geo.groups, Math.ceil(geo.OW / PIXEL_BLOCK));
  const total = geo.N * base.channel_blocks * geo.groups * geo.OH * base.inner_blocks;
  kernel.dispatch({
    op,
    entry: 'conv_forward',
    buffers: { a: x, b: w, out },
    uniforms: { ...base, total },
    constants: constants(geo),
    workgroups: grid(Math.ceil(total / WORKGROUP)),
  });
}

/** x = convᵀ(y, w), the adjoint of conv in x, into `out` [N, C_in, H, W]. */
export function convTranspose(
  y: GPUBuffer,
  w: GPUBuffer,
  out: GPUBuffer,
  geo: ConvGeometry,
  op = 'conv_transpose2d',
): void {
  const base = uniforms(geo, geo.C_in / geo.groups, Math.ceil(geo.W / PIXEL_BLOCK));
  const total = geo.N * base.channel_blocks * geo.groups * geo.H * base.inner_blocks;
  kernel.dispatch({
    op,
    entry: 'conv_transpose',
    buffers: { a: y, b: w, out },
    uniforms: { ...base, total },
    constants: constants(geo),
    workgroups: grid(Math.ceil(total / WORKGROUP)),
  });
}

/**
 * Returns how many chunks the weight gradient splits the batch into, so that
 * small weights still spread over enough invocations; the caller sums the chunks.
 */
export function weightGradChunks(geo: ConvGeometry): number {
  const invocations = weightGradInvocations(geo);
  return Math.min(geo.N, Math.max(1, Math.floor(WEIGHT_GRAD_INVOCATIONS / invocations)));
}

function weightGradInvocations(geo: ConvGeometry): number {
  const taps = (geo.C_in / geo.groups) * geo.KH * geo.KW;
  const channelBlocks = Math.ceil(geo.C_out / geo.groups / CHANNEL_BLOCK);
  return channelBlocks * geo.groups * Math.ceil(taps / TAP_BLOCK);
}

/**
 * Writes corr(x, y), the adjoint of conv in w, as `chunks` partial sums over
 * consecutive batch chunks into `out` [chunks, C_out, C_in / groups, KH, KW].
 */
export function convWeightGrad(
  x: GPUBuffer,
  y: GPUBuffer,
  out: GPUBuffer,
  geo: ConvGeometry,
  chunks: number,
  op = 'conv2d_weight_grad',
): void {
  const taps = (geo.C_in / geo.groups) * geo.KH * geo.KW;
  const base = uniforms(geo, geo.C_out / geo.groups, Math.ceil(taps / TAP_BLOCK));
  const total = chunks * weightGradInvocations(geo);
  kernel.dispatch({
    op,
    entry: 'conv_weight_grad',
    buffers: { a: x, b: y, out },
    uniforms: { ...base, batch_chunk: Math.ceil(geo.N / chunks), total },
    constants: constants(geo),
    workgroups: grid(Math.ceil(total / WORKGROUP)),
  });
}
