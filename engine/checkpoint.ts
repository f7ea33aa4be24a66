// Checkpoints in the safetensors format: an 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
// {string: string}}, then the raw little-endian tensor data, with offsets relative
// to the end of the header. Names are a module's dotted names, so PyTorch loads a
// file saved here into the same architecture with load_state_dict.
//
// encode/decode work on bytes in any JavaScript runtime; the file functions load
// node:fs/promises on first use, so browser bundles never touch it.

import { readback } from '../kernels/runtime';
import type { Module } from './nn/module';
import type { Optimizer, OptimizerStateDict, ParamState, GroupOptions } from './optim/optimizer';
import { tensor } from './ops/creation';
import { formatShape, numel, sameShape } from './shape';
import type { DType, Tensor } from './tensor';

/** safetensors dtype names and their sizes in bytes. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** One tensor as stored in a file: its dtype name, shape and raw little-endian bytes. */
export interface StoredTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

export interface SafetensorsContents {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

const STORED_DTYPE: Record<DType, string> = { f32: 'F32', i32: 'I32' };

// A header larger than this is taken as corruption rather than allocated.
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Serialises tensors (host bytes) and string metadata into a safetensors file image. */
export function encodeSafetensors(
  tensors: Map<string, StoredTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const itemBytes = DTYPE_BYTES[t.dtype];
    if (!itemBytes)
      throw new Error(`encodeSafetensors: tensor "${name}" has unknown dtype ${t.dtype}.`);
    if (t.bytes.byteLength !== numel(t.shape) * itemBytes)
      throw new Error(
        `encodeSafetensors: tensor "${name}" has ${t.bytes.byteLength} bytes, but ${t.dtype} ${formatShape(t.shape)} needs ${numel(t.shape) * itemBytes}.`,
      );
    header[name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [offset, offset + t.bytes.byteLength],
    };
    offset += t.bytes.byteLength;
  }

  // The header is padded with spaces to a multiple of 8 bytes so the data starts aligned.
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(json);
    json = withSpaces;
  }

  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let position = 8 + json.byteLength;
  for (const t of tensors.values()) {
    out.set(t.bytes, position);
    position += t.bytes.byteLength;
  }
  return out;
}

function isNonNegativeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/**
 * Parses and validates a safetensors file image: header length, JSON, dtypes,
 * shapes, and offsets (in range, matching the shape, not overlapping). `source`
 * names the file in error messages.
 */
export function decodeSafetensors(
  image: Uint8Array | ArrayBuffer,
  source = 'safetensors data',
): SafetensorsContents {
  const bytes = image instanceof Uint8Array ? image : new Uint8Array(image);
  const fail = (what: string): never => {
    throw new Error(`${source}: invalid safetensors file: ${what}.`);
  };

  if (bytes.byteLength < 8)
    fail(`it has ${bytes.byteLength} bytes, fewer than the 8-byte header length (truncated file?)`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(bytes.byteLength - 8, MAX_HEADER_BYTES)))
    fail(
      `the header length ${headerLength} exceeds the ${bytes.byteLength - 8} bytes after it (truncated or corrupt file)`,
    );
  const headerEnd = 8 + Number(headerLength);

  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, headerEnd)),
    );
  } catch (error) {
    fail(`the header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    fail('the header is not a JSON object');

  const dataLength = bytes.byteLength - headerEnd;
  const tensors = new Map<string, StoredTensor>();
  let metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (
        entry === null ||
        typeof entry !== 'object' ||
        Object.values(entry).some((v) => typeof v !== 'string')
      )
        fail('__metadata__ must map strings to strings');
      metadata = entry as Record<string, string>;
      continue;
    }
    const info = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    const dtype = info?.dtype;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES))
      fail(
        `tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}; expected one of ${Object.keys(DTYPE_BYTES).join(', ')}`,
      );
    const shape = info?.shape;
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInt))
      fail(
        `tensor "${name}" has shape ${JSON.stringify(shape)}; expected an array of non-negative integers`,
      );
    const offsets = info?.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt))
      fail(`tensor "${name}" has data_offsets ${JSON.stringify(offsets)}; expected [begin, end]`);
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLength)
      fail(
        `tensor "${name}" has data_offsets [${begin}, ${end}] outside the ${dataLength} data bytes (truncated file?)`,
      );
    const expectedBytes = numel(shape as number[]) * DTYPE_BYTES[dtype as string];
    if (end - begin !== expectedBytes)
      fail(
        `tensor "${name}" spans ${end - begin} bytes, but ${dtype as string} ${formatShape(shape as number[])} needs ${expectedBytes}`,
      );
    ranges.push([begin, end, name]);
    // A copy in its own ArrayBuffer, so typed-array views of it are aligned.
    // Uint8Array's slice is called explicitly because Node's Buffer.slice returns a view.
    tensors.set(name, {
      dtype: dtype as string,
      shape: shape as number[],
      bytes: Uint8Array.prototype.slice.call(bytes, headerEnd + begin, headerEnd + end),
    });
  }

  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1])
      fail(`tensors "${ranges[i - 1][2]}" and "${ranges[i][2]}" overlap`);
  }
  return { tensors, metadata };
}

/** Reads tensors back from the GPU as safetensors entries. */
export async function toStored(
  tensors: Iterable<[string, Tensor]>,
): Promise<Map<string, StoredTensor>> {
  const out = new Map<string, StoredTensor>();
  for (const [name, t] of tensors) {
    const data =
      t.size > 0 ? new Uint8Array(await readback(t.buffer, t.size * 4, 'save')) : new Uint8Array(0);
    out.set(name, {
      dtype: STORED_DTYPE[t.dtype],
      shape: [...t.shape],
      bytes: data.slice(0, t.size * 4),
    });
  }
  return out;
}

// ---- Files ----

type FsPromises = typeof import('node:fs/promises');
let fsModule: Promise<FsPromises> | null = null;

function fs(): Promise<FsPromises> {
  fsModule ??= import('node:fs/promises');
  return fsModule;
}

/**
 * Writes a file atomically: the bytes go to `path.tmp-<pid>-<random>`, are
 * flushed to disk, and the temporary file is renamed over `path`, so a crash
 * leaves either the old file or the new one.
 */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const { open, rename, unlink } = await fs();
  const pid = typeof process !== 'undefined' ? process.pid : 0;
  const temporary = `${path}.tmp-${pid}-${Math.random().toString(36).slice(2, 10)}`;
  const handle = await open(temporary, 'wx');
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** Saves tensors by name to a safetensors file, atomically. */
export async function saveSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  const entries = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  await writeFileAtomic(path, encodeSafetensors(await toStored(entries), metadata));
}

/** Reads and validates a safetensors file; tensors stay on the host. */
export async function loadSafetensors(path: string): Promise<SafetensorsContents> {
  const { readFile } = await fs();
  return decodeSafetensors(await readFile(path), path);
}

/** Saves a module's parameters and buffers under their dotted names. */
export async function saveModule(
  path: string,
  module: Module<never[], unknown>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await saveSafetensors(path, module.stateDict(), metadata);
}

// I64 counters (PyTorch's num_batches_tracked) load into i32 buffers when they fit.
function toEngineValues(
  source: string,
  name: string,
  stored: StoredTensor,
  target: Tensor,
): Float32Array | Int32Array {
  const expected = STORED_DTYPE[target.dtype];
  const mismatch = (): never => {
    throw new Error(
      `${source}: tensor "${name}" has dtype ${stored.dtype} and shape ${formatShape(stored.shape)}, expected ${expected} ${formatShape(target.shape)}. Nothing was loaded.`,
    );
  };
  if (!sameShape(stored.shape, target.shape)) mismatch();
  const buffer = stored.bytes.buffer.slice(
    stored.bytes.byteOffset,
    stored.bytes.byteOffset + stored.bytes.byteLength,
  );
  if (stored.dtype === expected)
    return target.dtype === 'f32' ? new Float32Array(buffer) : new Int32Array(buffer);
  if (target.dtype === 'i32' && stored.dtype === 'I64') {
    const wide = new BigInt64Array(buffer);
    const narrow = new Int32Array(wide.length);
    wide.forEach((v, i) => {
      if (v > 2147483647n || v < -2147483648n)
        throw new Error(
          `${source}: tensor "${name}" contains ${v}, which does not fit the i32 buffer. Nothing was loaded.`,
        );
      narrow[i] = Number(v);
    });
    return narrow;
  }
  return mismatch();
}

/**
 * Loads a safetensors file into a module's parameters and buffers in place.
 * Every name, shape and dtype is checked before anything is written. On a
 * mismatch the error names the file, the tensor and what was expected, and the
 * module is left unchanged.
 * With `strict` (the default) missing and unexpected names are errors.
 */
export async function loadModule(
  path: string,
  module: Module<never[], unknown>,
  options: { strict?: boolean } = {},
): Promise<Record<string, string>> {
  const { tensors, metadata } = await loadSafetensors(path);
  assignStored(path, tensors, module, options.strict ?? true);
  return metadata;
}

/** Validates decoded tensors against a module's state and, if all match, copies them in. */
export function assignStored(
  source: string,
  tensors: Map<string, StoredTensor>,
  module: Module<never[], unknown>,
  strict = true,
): void {
  const own = module.stateDict();
  if (strict) {
    for (const [name, t] of own) {
      if (!tensors.has(name))
        throw new Error(
          `${source}: missing tensor "${name}" (expected ${STORED_DTYPE[t.dtype]} ${formatShape(t.shape)}). Nothing was loaded; pass strict: false to load a subset.`,
        );
    }
    for (const name of tensors.keys()) {
      if (!own.has(name))
        throw new Error(
          `${source}: unexpected tensor "${name}", which ${module.constructor.name} does not have. Nothing was loaded; pass strict: false to ignore extra tensors.`,
        );
    }
  }

  const values: [string, Tensor, Float32Array | Int32Array][] = [];
  for (const [name, stored] of tensors) {
    const target = own.get(name);
    if (target) values.push([name, target, toEngineValues(source, name, stored, target)]);
  }

  // Upload everything first, then copy, so a failed upload cannot leave a partial load.
  const staged = new Map(
    values.map(
      ([name, target, data]) => [name, tensor(data, { shape: [...target.shape] })] as const,
    ),
  );
  try {
    module.loadStateDict(staged, { strict: false });
  } finally {
    for (const t of staged.values()) t.dispose();
  }
}

// ---- Optimizer state ----

/**
 * Saves optimizer state: tensors as `state.<param index>.<name>`, and the groups'
 * hyperparameters and per-parameter step counts as JSON in the metadata.
 */
export async function saveOptimizer(
  path: string,
  optimizer: Optimizer<GroupOptions>,
): Promise<void> {
  const { paramGroups, state } = optimizer.stateDict();
  const tensors = new Map<string, Tensor>();
  const steps: Record<string, number> = {};
  for (const [index, s] of state) {
    steps[index] = s.step;
    for (const [key, t] of Object.entries(s.tensors)) tensors.set(`state.${index}.${key}`, t);
  }
  await saveSafetensors(path, tensors, {
    format: 'metagrad-optimizer',
    param_groups: JSON.stringify(paramGroups),
    steps: JSON.stringify(steps),
  });
}

/** Restores optimizer state saved by `saveOptimizer`; the optimizer is unchanged when the file does not match. */
export async function loadOptimizer(
  path: string,
  optimizer: Optimizer<GroupOptions>,
): Promise<void> {
  const { tensors, metadata } = await loadSafetensors(path);
  if (metadata.format !== 'metagrad-optimizer' || !metadata.param_groups || !metadata.steps)
    throw new Error(
      `${path}: not an optimizer checkpoint (its metadata lacks format, param_groups or steps).`,
    );
  let paramGroups: OptimizerStateDict['paramGroups'];
  let steps: Record<string, number>;
  try {
    paramGroups = JSON.parse(metadata.param_groups) as OptimizerStateDict['paramGroups'];
    steps = JSON.parse(metadata.steps) as Record<string, number>;
  } catch (error) {
    throw new Error(
      `${path}: the optimizer metadata is not valid JSON (${(error as Error).message}).`,
    );
  }

  const state = new Map<number, ParamState>();
  const staged: Tensor[] = [];
  try {
    for (const [index, step] of Object.entries(steps))
      state.set(Number(index), { tensors: {}, step });
    for (const [name, stored] of tensors) {
      const match = /^state\.(\d+)\.(.+)$/.exec(name);
      const entry = match ? state.get(Number(match[1])) : undefined;
      if (!match || !entry)
        throw new Error(`${path}: unexpected tensor "${name}" in an optimizer checkpoint.`);
      if (stored.dtype !== 'F32')
        throw new Error(`${path}: tensor "${name}" has dtype ${stored.dtype}, expected F32.`);
      const data = new Float32Array(
        stored.bytes.buffer.slice(
          stored.bytes.byteOffset,
          stored.bytes.byteOffset + stored.bytes.byteLength,
        ),
      );
      const t = tensor(data, { shape: stored.shape });
      staged.push(t);
      entry.tensors[match[2]] = t;
    }
    try {
      optimizer.loadStateDict({ paramGroups, state });
    } catch (error) {
      throw new Error(`${path}: ${(error as Error).message}`);
    }
  } finally {
    for (const t of staged) t.dispose();
  }
}
