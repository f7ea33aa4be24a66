// GPU buffer pool and tensor lifetimes: `tidy` scopes, `keep`, `dispose` and `memory()`.

import { gpuDevice } from '../kernels/gpu';

// STORAGE | COPY_SRC | COPY_DST, spelled as numbers because Node installs the
// GPUBufferUsage global only when the device is acquired, after this module loads.
const USAGE = 0x0080 | 0x0004 | 0x0008;

/** A GPU buffer shared by a tensor and its views (reshape), freed to the pool when the last one is disposed. */
export class Storage {
  readonly buffer: GPUBuffer;
  readonly byteSize: number;
  refs = 1;

  constructor(buffer: GPUBuffer, byteSize: number) {
    this.buffer = buffer;
    this.byteSize = byteSize;
  }

  retain(): this {
    this.refs += 1;
    return this;
  }

  release(): void {
    this.refs -= 1;
    if (this.refs === 0) releaseBuffer(this.buffer, this.byteSize);
  }
}

const freeBuffers = new Map<number, GPUBuffer[]>();
let pooledBytes = 0;
let allocatedBytes = 0;
let liveBytes = 0;
let peakLiveBytes = 0;

// Sizes are rounded up so that a freed buffer can serve many later requests; the
// rounding wastes at most a quarter of a request.
function bucketSize(bytes: number): number {
  const size = Math.max(bytes, 16);
  if (size <= 256) return Math.ceil(size / 16) * 16;
  const step = 2 ** Math.max(Math.floor(Math.log2(size)) - 2, 4);
  return Math.ceil(size / step) * step;
}

/** A tensor larger than the device's maxStorageBufferBindingSize, which no kernel could bind. */
export class StorageLimitError extends Error {
  override name = 'StorageLimitError';

  constructor(
    label: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `${label}: a tensor of ${bytes} bytes exceeds the device's largest storage binding ` +
        `(${limit} bytes); split the computation into smaller tensors.`,
    );
  }
}

/** Returns the largest tensor, in bytes, that the device can bind (maxStorageBufferBindingSize). */
export function maxTensorBytes(): number {
  return gpuDevice().limits.maxStorageBufferBindingSize;
}

/** Takes a buffer of at least `bytes` bytes from the pool, or creates one. */
export function allocStorage(bytes: number, label: string): Storage {
  const size = bucketSize(bytes);
  const free = freeBuffers.get(size);
  let buffer = free?.pop();
  if (buffer) {
    pooledBytes -= size;
  } else {
    const limit = maxTensorBytes();
    if (size > limit) throw new StorageLimitError(label, bytes, limit);
    buffer = gpuDevice().createBuffer({ label, size, usage: USAGE });
    allocatedBytes += size;
  }
  liveBytes += size;
  peakLiveBytes = Math.max(peakLiveBytes, liveBytes);
  return new Storage(buffer, size);
}

function releaseBuffer(buffer: GPUBuffer, size: number): void {
  liveBytes -= size;
  let free = freeBuffers.get(size);
  if (!free) freeBuffers.set(size, (free = []));
  free.push(buffer);
  pooledBytes += size;
}

/** Destroys every pooled buffer that no tensor uses, returning their memory to the driver. */
export function emptyCache(): void {
  for (const list of freeBuffers.values()) {
    for (const buffer of list) {
      allocatedBytes -= buffer.size;
      buffer.destroy();
    }
  }
  freeBuffers.clear();
  pooledBytes = 0;
}

// ---- Tensor tracking and scopes ----

/** The part of a tensor that the memory system uses. */
export interface Tracked {
  readonly id: number;
  readonly isDisposed: boolean;
  dispose(): void;
}

const live = new Set<Tracked>();
const scopes: Set<Tracked>[] = [];

export function track(tensor: Tracked): void {
  live.add(tensor);
  scopes[scopes.length - 1]?.add(tensor);
}

export function untrack(tensor: Tracked): void {
  live.delete(tensor);
  for (const scope of scopes) scope.delete(tensor);
}

/** Keeps a tensor created inside `tidy` alive after the scope ends; returns it. */
export function keep<T extends Tracked>(tensor: T): T {
  for (const scope of scopes) scope.delete(tensor);
  return tensor;
}

function collectTensors(value: unknown, out: Set<Tracked>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (live.has(value as Tracked)) {
    out.add(value as Tracked);
    return;
  }
  if (value instanceof Map) {
    for (const item of value.values()) collectTensors(item, out, seen);
    return;
  }
  if (ArrayBuffer.isView(value)) return;
  for (const item of Object.values(value)) collectTensors(item, out, seen);
}

/**
 * Runs `fn` and disposes every tensor created inside it, except the tensors it
 * returns (also inside arrays, maps and plain objects) and those passed to `keep`.
 * When `fn` throws, every tensor created inside it and not passed to `keep` is disposed.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tracked>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    // Nothing created in the scope can reach the caller, so free all of it.
    for (const tensor of scope) if (!tensor.isDisposed) tensor.dispose();
    throw error;
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) {
    throw new Error(
      'mg.tidy(fn): fn returned a Promise; tidy needs a synchronous function. Await outside tidy.',
    );
  }

  return keepResult(scope, result);
}

/**
 * `tidy` for an async function, for loops that must let the event loop turn
 * (yieldEventLoop) while a graph is alive. Every tensor created before `fn`
 * settles joins this scope, also one created by other code that runs during its
 * awaits, so run nothing else that creates tensors meanwhile.
 */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = new Set<Tracked>();
  scopes.push(scope);
  let result: T;
  try {
    result = await fn();
  } catch (error) {
    for (const tensor of scope) if (!tensor.isDisposed) tensor.dispose();
    throw error;
  } finally {
    // Another tidyAsync may have started during fn's awaits, so find this scope by identity.
    scopes.splice(scopes.lastIndexOf(scope), 1);
  }
  return keepResult(scope, result);
}

// Disposes the tensors of a finished scope except those reachable from its result,
// which move to the enclosing scope.
function keepResult<T>(scope: Set<Tracked>, result: T): T {
  const kept = new Set<Tracked>();
  collectTensors(result, kept);
  const parent = scopes[scopes.length - 1];
  for (const tensor of scope) {
    if (kept.has(tensor)) parent?.add(tensor);
    else if (!tensor.isDisposed) tensor.dispose();
  }
  return result;
}

export interface MemoryInfo {
  /** Number of live (not disposed) tensors. */
  tensors: number;
  /** Bytes of GPU buffers that live tensors hold. */
  bytes: number;
  /** Highest `bytes` since start-up or the last `resetPeakMemory()`. */
  peakBytes: number;
  /** Bytes of freed buffers kept in the pool for reuse. */
  pooledBytes: number;
  /** Bytes of every buffer the pool has created and not destroyed. */
  allocatedBytes: number;
}

export function memory(): MemoryInfo {
  return {
    tensors: live.size,
    bytes: liveBytes,
    peakBytes: peakLiveBytes,
    pooledBytes,
    allocatedBytes,
  };
}

export function resetPeakMemory(): void {
  peakLiveBytes = liveBytes;
}
