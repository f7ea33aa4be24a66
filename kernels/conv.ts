// Launchers for conv.wgsl. Every entry point takes the geometry of one convolution
// x [N, C_in, H, W] (*) w [C_out, C_in / groups, KH, KW] = y [N, C_out, OH, OW].

import source from './wgsl/conv.wgsl?raw';
import packedSource from './wgsl/conv_packed.wgsl?raw';
import packedSubgroupSource from './wgsl/conv_packed_subgroup.wgsl?raw';
import { hasSubgroups } from './gpu';
import { Kernel, grid, scratchBuffer } from './kernel';

const kernel = new Kernel('conv', source);
const WORKGROUP = 64;
const CHANNEL_BLOCK = 4;
const PIXEL_BLOCK = 4;
const TAP_BLOCK = 4;
/** Output channels per weight-gradient invocation. */
const WEIGHT_GRAD_CHANNELS = 8;

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

// One constants object per distinct set of values, so the kernels' pipeline
// caches find the pipeline by object identity instead of serializing the values.
const constantsCache = new Map<string, Record<string, number>>();

function cachedConstants(values: Record<string, number>): Record<string, number> {
  const key = Object.entries(values).join(';');
  let cached = constantsCache.get(key);
  if (!cached) constantsCache.set(key, (cached = values));
  return cached;
}

function constants(geo: ConvGeometry): Record<string, number> {
  return cachedConstants({
    KH: geo.KH,
    KW: geo.KW,
    SH: geo.stride[0],
    SW: geo.stride[1],
    DH: geo.dilation[0],
    DW: geo.dilation[1],
  });
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

/** Writes y = conv(x, w) into `out` [N, C_out, OH, OW]. */
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

/** Writes x = convᵀ(y, w), the adjoint of conv in x, into `out` [N, C_in, H, W]. */
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
  const channelBlocks = Math.ceil(geo.C_out / geo.groups / WEIGHT_GRAD_CHANNELS);
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
  const base = {
    ...uniforms(geo, geo.C_out / geo.groups, Math.ceil(taps / TAP_BLOCK)),
    channel_blocks: Math.ceil(geo.C_out / geo.groups / WEIGHT_GRAD_CHANNELS),
  };
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

// ---- Packed fast path (conv_packed.wgsl) ----

const packedKernel = new Kernel('conv_packed', packedSource);
const packedSubgroupKernel = new Kernel('conv_packed_subgroup', packedSubgroupSource);

/** Element counts of the repacked input and weight that the packed path needs. */
export interface PackedSizes {
  input: number;
  weight: number;
}

function packedLayout(geo: ConvGeometry) {
  const cinG = geo.C_in / geo.groups;
  const coutG = geo.C_out / geo.groups;
  const WP = Math.max(Math.ceil(geo.OW / 8) * 8 + 4, Math.ceil((geo.W + geo.padding[1]) / 4) * 4);
  const CP = Math.ceil(coutG / 8) * 8;
  return { WP, CP, cinG, coutG };
}

/**
 * Returns whether convForwardPacked handles this geometry: column stride and
 * dilation 1, at most 5 kernel columns, and at least 4 output channels per group,
 * because its 8-channel blocks waste most of their work on fewer.
 */
export function packedPathApplies(geo: ConvGeometry): boolean {
  return (
    geo.stride[1] === 1 &&
    geo.dilation[1] === 1 &&
    geo.KW <= 5 &&
    geo.C_out / geo.groups >= 4 &&
    geo.padding.every((p) => p >= 0)
  );
}

export function packedSizes(geo: ConvGeometry): PackedSizes {
  const { WP, CP, cinG } = packedLayout(geo);
  return {
    input: geo.N * geo.C_in * geo.H * WP,
    weight: geo.groups * cinG * geo.KH * geo.KW * CP,
  };
}

/**
 * Returns the geometry of the forward convolution that equals convTranspose at stride 1:
 * channels swap roles, the kernel is flipped and the padding becomes dilation * (k - 1) - padding.
 * Returns null where that is not a packed-path convolution.
 */
export function transposeAsForward(geo: ConvGeometry): ConvGeometry | null {
  if (geo.stride[0] !== 1 || geo.stride[1] !== 1) return null;
  const padding: [number, number] = [
    geo.dilation[0] * (geo.KH - 1) - geo.padding[0],
    geo.dilation[1] * (geo.KW - 1) - geo.padding[1],
  ];
  const forward: ConvGeometry = {
    ...geo,
    C_in: geo.C_out,
    H: geo.OH,
    W: geo.OW,
    C_out: geo.C_in,
    OH: geo.H,
    OW: geo.W,
    padding,
  };
  return packedPathApplies(forward) ? forward : null;
}

/**
 * Writes y = conv(x, w) into `out` through the packed path, using `xp` and `wp` (of
 * packedSizes(geo) elements) for the repacked operands. With `flip`, w is the
 * weight of the transposed convolution that `geo` (from transposeAsForward) replaces.
 */
export function convForwardPacked(
  buffers: { x: GPUBuffer; w: GPUBuffer; xp: GPUBuffer; wp: GPUBuffer; out: GPUBuffer },
  geo: ConvGeometry,
  flip: boolean,
  op: string,
): void {
  const { WP, CP, cinG, coutG } = packedLayout(geo);
  const sizes = packedSizes(geo);
  const uniforms = {
    N: geo.N,
    C_in: geo.C_in,
    H: geo.H,
    W: geo.W,
    C_out: geo.C_out,
    OH: geo.OH,
    OW: geo.OW,
    WP,
    CP,
    cin_g: cinG,
    cout_g: coutG,
    groups: geo.groups,
    pad_h: geo.padding[0],
    pad_w: geo.padding[1],
  };
  const constants = cachedConstants({
    KH: geo.KH,
    KW: geo.KW,
    SH: geo.stride[0],
    DH: geo.dilation[0],
    FLIP: flip ? 1 : 0,
  });
  const unused = scratchBuffer();

  packedKernel.dispatch({
    op,
    entry: 'pad_columns',
    buffers: { x: buffers.x, out: buffers.xp, xp: unused, wp: unused },
    uniforms: { ...uniforms, total: sizes.input },
    constants,
    workgroups: grid(Math.ceil(sizes.input / WORKGROUP)),
  });
  packedKernel.dispatch({
    op,
    entry: 'pack_weights',
    buffers: { x: buffers.w, out: buffers.wp, xp: unused, wp: unused },
    uniforms: { ...uniforms, total: sizes.weight },
    constants,
    workgroups: grid(Math.ceil(sizes.weight / WORKGROUP)),
  });
  const rowBuffers = { x: unused, out: buffers.out, xp: buffers.xp, wp: buffers.wp };
  // The subgroup kernel runs one workgroup per 8 blocks of 8 output columns that
  // share a channel block and image. It is taken where at least 3/4 of those
  // workgroups' invocations have a block to compute; on small images such as
  // 3x3, the flat indexing of conv_packed.wgsl keeps every invocation busy.
  const blocks = geo.OH * Math.ceil(geo.OW / 8);
  const blockGroups = Math.ceil(blocks / 8);
  if (hasSubgroups() && geo.KH === 3 && geo.KW === 3 && blocks >= 0.75 * 8 * blockGroups) {
    const workgroups = geo.N * geo.groups * (CP / 8) * blockGroups;
    packedSubgroupKernel.dispatch({
      op,
      entry: 'conv_rows',
      buffers: rowBuffers,
      uniforms: { ...uniforms, total: workgroups },
      constants: cachedConstants({ SH: geo.stride[0], DH: geo.dilation[0] }),
      workgroups: grid(workgroups),
    });
    return;
  }
  const total = geo.N * geo.groups * (CP / 8) * geo.OH * Math.ceil(geo.OW / 8);
  packedKernel.dispatch({
    op,
    entry: 'conv_rows',
    buffers: rowBuffers,
    uniforms: { ...uniforms, total },
    constants,
    workgroups: grid(Math.ceil(total / WORKGROUP)),
  });
}
