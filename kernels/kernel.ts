// A Kernel wraps one WGSL source file. Its bindings and its uniform struct layout
// are read from the WGSL by wgsl_reflect, so launchers pass buffers and uniform
// values by the names the shader gives them and never restate offsets.

import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import type { VariableInfo } from 'wgsl_reflect';
import { gpuDevice } from './gpu';
import { beginDispatch, currentPass } from './runtime';

type Scalar = 'f32' | 'i32' | 'u32';

interface UniformField {
  offset: number;
  scalar: Scalar;
  /** Number of 4-byte scalars the field holds (1 for a scalar, 4 for vec4, 8 for array<vec4<u32>, 2>). */
  count: number;
}

interface Binding {
  name: string;
  index: number;
  kind: 'uniform' | 'read-only-storage' | 'storage';
}

export type UniformValues = Record<string, number | readonly number[]>;

export interface DispatchArgs {
  /** The op this dispatch computes; WebGPU errors name it. */
  op: string;
  entry?: string;
  buffers: Record<string, GPUBuffer>;
  uniforms?: UniformValues;
  /** Values of the shader's `override` constants; each distinct set gets its own pipeline. */
  constants?: Record<string, number>;
  workgroups: readonly [number, number?, number?];
}

/** Largest workgroup count per dimension that WebGPU guarantees. */
export const MAX_WORKGROUPS = 65535;

// Distinct buffer combinations one kernel caches bind groups for before it starts
// over. Kept small because every live bind group holds memory mappings on lavapipe:
// with 4,096 per kernel, npm start reached Linux's default vm.max_map_count (65,530)
// in seconds and Dawn crashed; with 64 it levels off near 13,500 mappings.
const MAX_CACHED_BIND_GROUPS = 64;

const SCALARS: readonly Scalar[] = ['f32', 'i32', 'u32'];

function scalarOf(typeName: string, formatName?: string, innerName?: string): Scalar {
  for (const name of [typeName, formatName, innerName]) {
    if (name && (SCALARS as readonly string[]).includes(name)) return name as Scalar;
  }
  throw new Error(
    `Uniform field type ${typeName}<${formatName ?? ''}> is not made of f32, i32 or u32.`,
  );
}

export class Kernel {
  readonly name: string;
  private readonly source: string;
  private readonly bindings: Binding[];
  private readonly uniformName: string | null;
  private readonly uniformFields = new Map<string, UniformField>();
  private readonly uniformSize: number;
  private readonly workgroupSizes = new Map<string, [number, number, number]>();
  private module: GPUShaderModule | null = null;
  private layout: GPUBindGroupLayout | null = null;
  private pipelineLayout: GPUPipelineLayout | null = null;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  // Pipelines by entry point and constants object, so that launchers passing the
  // same constants object skip building the JSON key.
  private readonly pipelinesByConstants = new Map<
    string,
    WeakMap<Record<string, number>, GPUComputePipeline>
  >();
  // Bind groups keyed by their buffers in binding order, one WeakMap level per
  // binding. The uniform binding is keyed by its content-addressed buffer too.
  private bindGroups = new WeakMap<GPUBuffer, unknown>();
  private bindGroupCount = 0;
  // The uniform block of the dispatch being recorded, as the three scalar views of one buffer.
  private readonly uniformWords: { u32: Uint32Array; i32: Int32Array; f32: Float32Array };

  constructor(name: string, source: string) {
    this.name = name;
    this.source = source;
    const reflect = new WgslReflect(source);

    const groups = reflect.getBindGroups();
    if (groups.length > 1)
      throw new Error(
        `Kernel ${name} uses bind group 1 or higher; metagrad kernels use group 0 only.`,
      );
    this.bindings = (groups[0] ?? [])
      .filter((v): v is VariableInfo => v !== undefined)
      .map((variable) => ({
        name: variable.name,
        index: variable.binding,
        kind:
          variable.resourceType === 0
            ? 'uniform'
            : variable.access === 'read'
              ? 'read-only-storage'
              : 'storage',
      }));

    const uniforms = reflect.uniforms;
    if (uniforms.length > 1)
      throw new Error(
        `Kernel ${name} declares ${uniforms.length} uniform buffers; use one struct.`,
      );
    this.uniformName = uniforms[0]?.name ?? null;
    this.uniformSize = uniforms[0]?.size ?? 0;
    for (const member of uniforms[0]?.members ?? []) {
      const format = member.format;
      const inner = (format as { format?: { name: string } } | null)?.format;
      this.uniformFields.set(member.name, {
        offset: member.offset,
        scalar: scalarOf(member.type.name, format?.name, inner?.name),
        count: member.size / 4,
      });
    }

    const words = new ArrayBuffer(Math.max(16, Math.ceil(this.uniformSize / 16) * 16));
    this.uniformWords = {
      u32: new Uint32Array(words),
      i32: new Int32Array(words),
      f32: new Float32Array(words),
    };

    for (const entry of reflect.entry.compute) {
      const size = entry.workgroupSize ?? [1, 1, 1];
      this.workgroupSizes.set(entry.name, [
        Number(size[0] ?? 1),
        Number(size[1] ?? 1),
        Number(size[2] ?? 1),
      ]);
    }
  }

  /** Returns the workgroup size an entry point declares, with `override` sizes at their defaults. */
  workgroupSize(entry = 'main'): [number, number, number] {
    const size = this.workgroupSizes.get(entry);
    if (!size) throw new Error(`Kernel ${this.name} has no compute entry point named ${entry}.`);
    return size;
  }

  private pipeline(
    entry: string,
    constants: Record<string, number> | undefined,
  ): GPUComputePipeline {
    if (!constants) return this.pipelineByKey(entry, undefined, entry);
    let byConstants = this.pipelinesByConstants.get(entry);
    if (!byConstants) this.pipelinesByConstants.set(entry, (byConstants = new WeakMap()));
    let pipeline = byConstants.get(constants);
    if (!pipeline) {
      pipeline = this.pipelineByKey(entry, constants, `${entry}|${JSON.stringify(constants)}`);
      byConstants.set(constants, pipeline);
    }
    return pipeline;
  }

  private pipelineByKey(
    entry: string,
    constants: Record<string, number> | undefined,
    key: string,
  ): GPUComputePipeline {
    const cached = this.pipelines.get(key);
    if (cached) return cached;

    const device = gpuDevice();
    this.module ??= device.createShaderModule({ label: this.name, code: this.source });
    this.layout ??= device.createBindGroupLayout({
      label: this.name,
      entries: this.bindings.map((binding) => ({
        binding: binding.index,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: binding.kind },
      })),
    });
    this.pipelineLayout ??= device.createPipelineLayout({
      label: this.name,
      bindGroupLayouts: [this.layout],
    });
    const pipeline = device.createComputePipeline({
      label: `${this.name}:${key}`,
      layout: this.pipelineLayout,
      compute: { module: this.module, entryPoint: entry, constants },
    });
    this.pipelines.set(key, pipeline);
    return pipeline;
  }

  private writeUniforms(values: UniformValues): void {
    this.uniformWords.u32.fill(0);
    for (const name in values) {
      const field = this.uniformFields.get(name);
      if (!field) throw new Error(`Kernel ${this.name} has no uniform field named ${name}.`);
      const value = values[name];
      const words = this.uniformWords[field.scalar];
      const start = field.offset / 4;
      if (typeof value === 'number') {
        words[start] = value;
        continue;
      }
      if (value.length > field.count) {
        throw new Error(
          `Uniform ${this.name}.${name} has room for ${field.count} values; got ${value.length}.`,
        );
      }
      for (let i = 0; i < value.length; i++) words[start + i] = value[i];
    }
  }

  /** Returns the bind group for these buffers, creating and caching it on first use. */
  private bindGroup(
    op: string,
    buffers: Record<string, GPUBuffer>,
    uniform: GPUBuffer | null,
  ): GPUBindGroup {
    let level: WeakMap<GPUBuffer, unknown> = this.bindGroups;
    const last = this.bindings.length - 1;
    for (let i = 0; i <= last; i++) {
      const binding = this.bindings[i];
      const buffer = binding.kind === 'uniform' ? uniform : buffers[binding.name];
      if (!buffer)
        throw new Error(
          `Op ${op}: kernel ${this.name} needs a buffer for binding ${binding.name}.`,
        );
      const next = level.get(buffer);
      if (i === last) {
        if (next) return next as GPUBindGroup;
        return this.createBindGroup(buffers, uniform, level, buffer);
      }
      if (next) level = next as WeakMap<GPUBuffer, unknown>;
      else level.set(buffer, (level = new WeakMap()));
    }
    throw new Error(`Internal error: kernel ${this.name} has no bindings.`);
  }

  private createBindGroup(
    buffers: Record<string, GPUBuffer>,
    uniform: GPUBuffer | null,
    level: WeakMap<GPUBuffer, unknown>,
    lastBuffer: GPUBuffer,
  ): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = this.bindings.map((binding) =>
      binding.kind === 'uniform'
        ? {
            binding: binding.index,
            resource: { buffer: uniform!, offset: 0, size: this.uniformSize },
          }
        : { binding: binding.index, resource: { buffer: buffers[binding.name] } },
    );
    // Labelled with the kernel, not the op, because later ops reuse the cached group.
    const group = gpuDevice().createBindGroup({ label: this.name, layout: this.layout!, entries });

    // A training loop reuses few combinations of pooled buffers. The bound stops a
    // workload that pairs many distinct buffers from growing the cache without limit.
    this.bindGroupCount += 1;
    if (this.bindGroupCount > MAX_CACHED_BIND_GROUPS) {
      this.bindGroups = new WeakMap();
      this.bindGroupCount = 0;
    } else {
      level.set(lastBuffer, group);
    }
    return group;
  }

  /** Records one dispatch in the current batch. */
  dispatch(args: DispatchArgs): void {
    const pipeline = this.pipeline(args.entry ?? 'main', args.constants);
    const workgroups = args.workgroups;
    const x = workgroups[0];
    const y = workgroups[1] ?? 1;
    const z = workgroups[2] ?? 1;
    if (x === 0 || y === 0 || z === 0) return;
    if (x > MAX_WORKGROUPS || y > MAX_WORKGROUPS || z > MAX_WORKGROUPS) {
      throw new Error(
        `Op ${args.op} asks for ${x}x${y}x${z} workgroups; each dimension allows ${MAX_WORKGROUPS}.`,
      );
    }

    let uniform: GPUBuffer | null = null;
    if (this.uniformName !== null) {
      this.writeUniforms(args.uniforms ?? {});
      uniform = uniformBuffer(this.uniformWords.u32);
    }
    beginDispatch(args.op, this.name, args.entry ?? 'main');
    const group = this.bindGroup(args.op, args.buffers, uniform);
    const pass = currentPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
  }
}

// Uniform buffers by content. Each is written once, when it is created, and never
// changed, so a bind group can bind it at a static offset. On lavapipe a dynamic
// uniform offset made every dispatch cost about 25 µs more (measured with a bare
// Dawn loop of 1,000 dispatches). Training loops repeat the same shapes, so few
// distinct blocks exist, and the bound stops ever-new shapes from growing the
// cache without limit.
const MAX_CACHED_UNIFORMS = 2048;
let uniformBuffers = new Map<string, GPUBuffer>();

function uniformBuffer(words: Uint32Array): GPUBuffer {
  const key = words.join(',');
  const cached = uniformBuffers.get(key);
  if (cached) return cached;
  if (uniformBuffers.size >= MAX_CACHED_UNIFORMS) uniformBuffers = new Map();
  const buffer = gpuDevice().createBuffer({
    label: 'metagrad uniforms',
    size: words.byteLength,
    usage: GPUBufferUsage.UNIFORM,
    mappedAtCreation: true,
  });
  new Uint32Array(buffer.getMappedRange()).set(words);
  buffer.unmap();
  uniformBuffers.set(key, buffer);
  return buffer;
}

/** Splits `count` workgroups over x and y so neither exceeds the per-dimension limit. */
export function grid(count: number): [number, number] {
  if (count <= MAX_WORKGROUPS) return [count, 1];
  const y = Math.ceil(count / MAX_WORKGROUPS);
  return [Math.ceil(count / y), y];
}

// Workgroups of 64 invocations that a grid-stride kernel is launched with at most.
// Each workgroup has a fixed start-up cost on lavapipe. A relu over 8M elements
// ran 3 to 5 times faster as 2,048 to 4,096 workgroups looping over the data
// than as one workgroup per 64 elements, and slower again at 16,384 (measured
// with mg.profile on 2 CPU cores under load, so the best count is an estimate).
const MAX_STRIDE_WORKGROUPS = 2048;

/**
 * Returns the workgroups for a grid-stride kernel over `n` elements whose
 * invocation j handles the 4 elements from 4 j, then those from 4 (j + stride),
 * and so on, stride being the number of invocations.
 */
export function strideGrid(n: number, workgroupSize = 64): [number, number] {
  return [Math.min(Math.ceil(n / (4 * workgroupSize)), MAX_STRIDE_WORKGROUPS), 1];
}

/**
 * Merges neighbouring dimensions that every operand walks as one (its stride on
 * the outer one equals its stride times the size on the inner one) and drops
 * dimensions of size 1, so that strided kernels compute fewer coordinates per
 * element. Returns the shape and each operand's strides over the merged dimensions.
 */
export function collapseDims(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    const merges = last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * shape[d]);
    if (merges) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => (outStrides[k][last] = s[d]));
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  return { shape: outShape, strides: outStrides };
}

let scratch: GPUBuffer | null = null;

/** A small storage buffer to bind where an entry point leaves a binding unused. */
export function scratchBuffer(): GPUBuffer {
  scratch ??= gpuDevice().createBuffer({
    label: 'metagrad unused binding',
    size: 256,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  return scratch;
}
