// A Kernel wraps one WGSL source file. Its bindings and its uniform struct layout
// are read from the WGSL by wgsl_reflect, so launchers pass buffers and uniform
// values by the names the shader gives them and never restate offsets.

import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import type { VariableInfo } from 'wgsl_reflect';
import { gpuDevice } from './gpu';
import { beginDispatch } from './runtime';

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
    const key = constants ? `${entry}|${JSON.stringify(constants)}` : entry;
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

  private writeUniforms(values: UniformValues, view: DataView): void {
    for (const [name, value] of Object.entries(values)) {
      const field = this.uniformFields.get(name);
      if (!field) throw new Error(`Kernel ${this.name} has no uniform field named ${name}.`);
      const list = typeof value === 'number' ? [value] : value;
      if (list.length > field.count) {
        throw new Error(
          `Uniform ${this.name}.${name} holds ${field.count} values; got ${list.length}.`,
        );
      }
      for (let i = 0; i < list.length; i++) {
        const offset = field.offset + 4 * i;
        if (field.scalar === 'f32') view.setFloat32(offset, list[i], true);
        else if (field.scalar === 'i32') view.setInt32(offset, list[i], true);
        else view.setUint32(offset, list[i], true);
      }
    }
  }

  /** Records one dispatch in the current batch. */
  dispatch(args: DispatchArgs): void {
    const entry = args.entry ?? 'main';
    const pipeline = this.pipeline(entry, args.constants);
    const [x, y = 1, z = 1] = args.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    if (x > MAX_WORKGROUPS || y > MAX_WORKGROUPS || z > MAX_WORKGROUPS) {
      throw new Error(
        `Op ${args.op} asks for ${x}x${y}x${z} workgroups; each dimension allows ${MAX_WORKGROUPS}.`,
      );
    }

    const slot = beginDispatch(args.op, this.uniformSize);
    const entries: GPUBindGroupEntry[] = [];
    for (const binding of this.bindings) {
      if (binding.kind === 'uniform') {
        this.writeUniforms(args.uniforms ?? {}, slot.uniformView);
        const resource = {
          buffer: slot.uniformBuffer,
          offset: slot.uniformOffset,
          size: this.uniformSize,
        };
        entries.push({ binding: binding.index, resource });
        continue;
      }
      const buffer = args.buffers[binding.name];
      if (!buffer)
        throw new Error(
          `Op ${args.op}: kernel ${this.name} needs a buffer for binding ${binding.name}.`,
        );
      entries.push({ binding: binding.index, resource: { buffer } });
    }

    const group = gpuDevice().createBindGroup({ label: args.op, layout: this.layout!, entries });
    const pass = slot.pass;
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
  }
}

/** Splits `count` workgroups over x and y so neither exceeds the per-dimension limit. */
export function grid(count: number): [number, number] {
  if (count <= MAX_WORKGROUPS) return [count, 1];
  const y = Math.ceil(count / MAX_WORKGROUPS);
  return [Math.ceil(count / y), y];
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
