// Command batching: every dispatch goes into one shared command encoder, and the
// encoder is submitted when it holds MAX_BATCH dispatches, when the uniform arena
// is full, before an upload and before a readback.

import { gpuDevice, onUncapturedError } from './gpu';

const MAX_BATCH = 512;

// Each dispatch gets a 256-byte slot (minUniformBufferOffsetAlignment) of one
// uniform buffer. The CPU copy is written to the GPU just before the submit, and
// queue order makes it safe to reuse the same buffer for the next batch.
const UNIFORM_SLOT = 256;
const UNIFORM_ARENA = UNIFORM_SLOT * MAX_BATCH;

let encoder: GPUCommandEncoder | null = null;
let pass: GPUComputePassEncoder | null = null;
let dispatches = 0;
let uniformBuffer: GPUBuffer | null = null;
const uniformData = new ArrayBuffer(UNIFORM_ARENA);
let uniformUsed = 0;

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

/**
 * Typed views of the CPU copy of the uniform arena. A kernel writes its
 * uniforms at the byte offset that `beginDispatch` returns (divided by 4).
 */
export const uniformWords = {
  f32: new Float32Array(uniformData),
  i32: new Int32Array(uniformData),
  u32: new Uint32Array(uniformData),
};

/** Returns the uniform buffer that every dispatch binds, at its own dynamic offset. */
export function uniformArena(): GPUBuffer {
  uniformBuffer ??= gpuDevice().createBuffer({
    label: 'metagrad uniforms',
    size: UNIFORM_ARENA,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  return uniformBuffer;
}

/** Returns the compute pass of the current batch; valid right after `beginDispatch`. */
export function currentPass(): GPUComputePassEncoder {
  if (!pass) throw new Error('Internal error: currentPass() called before beginDispatch().');
  return pass;
}

/**
 * Reserves room for one dispatch in the current batch, submitting the batch
 * first if it is full, and opens the compute pass. Returns the byte offset of
 * the dispatch's zeroed 256-byte uniform slot, whose contents are uploaded at the submit.
 */
export function beginDispatch(opName: string, uniformBytes: number): number {
  if (uniformBytes > UNIFORM_SLOT) {
    throw new Error(
      `Op ${opName}: the kernel's uniform block is ${uniformBytes} bytes; the runtime allows at most ${UNIFORM_SLOT}.`,
    );
  }
  if (!listening) listen();
  if (errors.length > 0) throwPendingErrors();
  if (inNode) countTurnDispatch(opName);
  if (dispatches >= MAX_BATCH || uniformUsed + UNIFORM_SLOT > UNIFORM_ARENA) flush();

  uniformArena();
  encoder ??= gpuDevice().createCommandEncoder({ label: 'metagrad batch' });
  pass ??= encoder.beginComputePass({ label: 'metagrad ops' });

  const uniformOffset = uniformUsed;
  if (uniformBytes > 0) {
    uniformUsed += UNIFORM_SLOT;
    uniformWords.u32.fill(0, uniformOffset / 4, (uniformOffset + UNIFORM_SLOT) / 4);
  }

  dispatches += 1;
  totalDispatches += 1;
  if (batchOps[batchOps.length - 1] !== opName) batchOps.push(opName);
  return uniformOffset;
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
  if (uniformUsed > 0 && uniformBuffer) {
    device.queue.writeBuffer(uniformBuffer, 0, uniformData, 0, uniformUsed);
  }
  device.queue.submit([encoder.finish()]);
  submittedBatches += 1;
  device.queue.onSubmittedWorkDone().then(
    () => (completedBatches += 1),
    () => (completedBatches += 1),
  );
  encoder = null;
  dispatches = 0;
  uniformUsed = 0;
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
