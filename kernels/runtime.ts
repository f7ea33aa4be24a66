// Command batching: every dispatch goes into one shared command encoder, and the
// encoder is submitted when it has MAX_BATCH dispatches, before an upload and
// before a readback.

import { gpuDevice, onUncapturedError } from './gpu';
import {
  profileDispatch,
  profileResolve,
  profiling,
  startProfile,
  stopProfile,
  type Profile,
} from './profile';

const MAX_BATCH = 512;

let encoder: GPUCommandEncoder | null = null;
let pass: GPUComputePassEncoder | null = null;
let dispatches = 0;

// Op names of the batch in flight, for error messages.
let batchOps: string[] = [];
let lastSubmittedOps: string[] = [];
const errors: string[] = [];
let listening = false;

let totalDispatches = 0;

// Dawn's Node binding crashes (segmentation fault or a failed pthread assertion)
// when tens of thousands of dispatches are queued while the event loop never
// turns: seen here from about 50,000 dispatches on lavapipe with Dawn from the npm
// package webgpu 0.6.2. Work past this limit throws a clear error instead.
// NOTE: the crash point varied between runs; this limit is an estimate below it.
const MAX_DISPATCHES_PER_TURN = 30_000;
let dispatchesThisTurn = 0;
const inNode = typeof process !== 'undefined' && process.versions?.node !== undefined;

function listen(): void {
  if (listening) return;
  listening = true;
  onUncapturedError((error) => {
    const ops = [...new Set([...lastSubmittedOps, ...batchOps])].slice(-8).join(', ');
    errors.push(`${error.message.trim()} (ops in the failing batch: ${ops || 'none'})`);
  });
}

/** Throws the first WebGPU error reported since the last check. */
export function throwPendingErrors(): void {
  if (errors.length === 0) return;
  const message = errors.join('\n');
  errors.length = 0;
  throw new Error(`WebGPU reported an error: ${message}`);
}

/** Returns the compute pass of the current batch; valid right after `beginDispatch`. */
export function currentPass(): GPUComputePassEncoder {
  if (!pass) throw new Error('Internal error: currentPass() called before beginDispatch().');
  return pass;
}

/**
 * Reserves room for one dispatch in the current batch, submitting the batch
 * first if it is full, and opens the compute pass.
 */
export function beginDispatch(opName: string, kernel: string, entry: string): void {
  if (!listening) listen();
  if (errors.length > 0) throwPendingErrors();
  if (inNode) countTurnDispatch(opName);
  if (dispatches >= MAX_BATCH) flush();

  encoder ??= gpuDevice().createCommandEncoder({ label: 'metagrad batch' });
  if (profiling()) {
    // A pass of its own, so that its start and end timestamps bound this dispatch alone.
    if (pass) pass.end();
    const timestampWrites = profileDispatch(opName, `${kernel}.${entry}`, MAX_BATCH);
    pass = encoder.beginComputePass({ label: 'metagrad ops', timestampWrites });
  }
  pass ??= encoder.beginComputePass({ label: 'metagrad ops' });

  dispatches += 1;
  totalDispatches += 1;
  if (batchOps[batchOps.length - 1] !== opName) batchOps.push(opName);
}

/** Returns the command encoder of the current batch, with no compute pass open, for copies. */
export function copyEncoder(): GPUCommandEncoder {
  listen();
  if (pass) {
    pass.end();
    pass = null;
  }
  encoder ??= gpuDevice().createCommandEncoder({ label: 'metagrad batch' });
  return encoder;
}

/** Submits the pending batch, if any. */
export function flush(): void {
  if (!encoder) return;
  const device = gpuDevice();
  if (pass) {
    pass.end();
    pass = null;
  }
  const submitted = profiling() ? profileResolve(encoder) : null;
  device.queue.submit([encoder.finish()]);
  submitted?.();
  submittedBatches += 1;
  device.queue.onSubmittedWorkDone().then(
    () => (completedBatches += 1),
    () => (completedBatches += 1),
  );
  encoder = null;
  dispatches = 0;
  lastSubmittedOps = batchOps;
  batchOps = [];
}

/** Returns whether commands are waiting in the batch. */
export function hasPending(): boolean {
  return encoder !== null;
}

/** Writes host data into a buffer, after submitting pending commands that might still read it. */
export function upload(
  buffer: GPUBuffer,
  data: ArrayBufferView<ArrayBuffer>,
  byteOffset = 0,
): void {
  flush();
  const queue = gpuDevice().queue;
  // writeBuffer wants a multiple of 4 bytes.
  if (data.byteLength % 4 === 0) {
    queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
    return;
  }
  const padded = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
  padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  queue.writeBuffer(buffer, byteOffset, padded);
}

/**
 * Awaits a GPU promise while holding Node's event loop open: Dawn's Node binding
 * does not count a pending mapAsync or onSubmittedWorkDone as pending work, so
 * without a timer the process can exit (or crash in teardown) mid-await.
 */
async function awaitGpu<T>(promise: Promise<T>): Promise<T> {
  if (typeof setInterval !== 'function' || typeof process === 'undefined') return promise;
  const timer = setInterval(() => undefined, 50);
  try {
    return await promise;
  } finally {
    clearInterval(timer);
  }
}

/** Copies `byteLength` bytes of a buffer to the host, submitting every pending command first. */
export async function readback(
  buffer: GPUBuffer,
  byteLength: number,
  opName = 'readback',
): Promise<ArrayBuffer> {
  const device = gpuDevice();
  const size = Math.max(4, Math.ceil(byteLength / 4) * 4);
  const staging = device.createBuffer({
    label: `metagrad ${opName}`,
    size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  copyEncoder().copyBufferToBuffer(buffer, 0, staging, 0, size);
  flush();
  try {
    await awaitGpu(staging.mapAsync(GPUMapMode.READ));
    throwPendingErrors();
    return staging.getMappedRange(0, size).slice(0, byteLength);
  } finally {
    if (staging.mapState === 'mapped') staging.unmap();
    staging.destroy();
  }
}

/** Waits until the GPU has finished every submitted command. */
export async function sync(): Promise<void> {
  flush();
  await awaitGpu(gpuDevice().queue.onSubmittedWorkDone());
  throwPendingErrors();
}

function countTurnDispatch(opName: string): void {
  if (dispatchesThisTurn === 0) setImmediate(() => (dispatchesThisTurn = 0));
  dispatchesThisTurn += 1;
  if (dispatchesThisTurn > MAX_DISPATCHES_PER_TURN) {
    dispatchesThisTurn = 0;
    throw new Error(
      `Op ${opName}: ${MAX_DISPATCHES_PER_TURN} GPU dispatches were queued without the event loop turning, ` +
        "and Dawn's Node binding can crash past that. Await something between steps of a long loop: " +
        '`await mg.yieldEventLoop()`, `await mg.sync()` or a readback such as `await loss.item()`.',
    );
  }
}

// Batches submitted and finished by the GPU. Dawn frees a batch's resources only
// once it has finished, so a CPU that queues far ahead of a slow software GPU
// piles up memory mappings until Dawn crashes (seen at about 60,000 mappings,
// near Linux's default vm.max_map_count of 65,530).
let submittedBatches = 0;
let completedBatches = 0;
const MAX_BATCHES_IN_FLIGHT = 16;

/**
 * Lets the event loop turn, and waits for the GPU when more than 16 submitted
 * batches are unfinished. Dawn in Node needs both; call it between the steps of
 * long loops.
 */
export async function yieldEventLoop(): Promise<void> {
  if (!inNode) return;
  if (submittedBatches - completedBatches > MAX_BATCHES_IN_FLIGHT) {
    flush();
    await awaitGpu(gpuDevice().queue.onSubmittedWorkDone());
    return;
  }
  await new Promise((resolve) => setImmediate(resolve));
}

/** Returns the number of kernel dispatches since start-up. */
export function dispatchCount(): number {
  return totalDispatches;
}

/**
 * Runs `fn` and records, per op and kernel entry point, how many dispatches it
 * queued and how long they ran on the GPU, then returns its result with the
 * profile. Where the device has the timestamp-query feature, every dispatch gets
 * a compute pass of its own with timestamps at its start and end; elsewhere the
 * profile counts dispatches only. The per-dispatch passes and readbacks slow the
 * profiled work a little, so compare profiles with profiles, not with plain timings.
 * Profiling is off outside `profile`, and then costs one check per dispatch.
 */
export async function profile<T>(
  fn: () => T | Promise<T>,
): Promise<{ result: T; profile: Profile }> {
  await sync();
  startProfile();
  const startedAt = performance.now();
  let result: T;
  try {
    result = await fn();
  } catch (error) {
    await stopProfile(sync, startedAt).catch(() => undefined);
    throw error;
  }
  return { result, profile: await stopProfile(sync, startedAt) };
}
