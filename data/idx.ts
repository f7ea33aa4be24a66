// A reader for the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
// two zero bytes, a type code (0x08 for unsigned bytes), the number of
// dimensions, then each dimension as a big-endian uint32, then the values in
// row-major order. Files may be gzip-compressed, as the official releases are.

import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';

/** An IDX array of unsigned bytes. */
export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

/** A malformed IDX file; the message names the file and what is wrong with it. */
export class IdxFormatError extends Error {
  override name = 'IdxFormatError';
}

const GZIP_MAGIC = [0x1f, 0x8b];
const UNSIGNED_BYTE = 0x08;

/** Parses IDX bytes (gzip-compressed or not); `file` names the source in errors. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  let raw = bytes;
  if (bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1]) {
    try {
      raw = new Uint8Array(gunzipSync(bytes));
    } catch (error) {
      throw new IdxFormatError(
        `${file}: the gzip stream is damaged or truncated (${(error as Error).message}); download the file again.`,
      );
    }
  }
  if (raw.length < 4)
    throw new IdxFormatError(
      `${file}: the file is truncated (${raw.length} bytes, shorter than the 4-byte IDX magic number); download it again.`,
    );
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const magic = view.getUint32(0);
  const dims = raw[3];
  if (raw[0] !== 0 || raw[1] !== 0 || raw[2] !== UNSIGNED_BYTE || dims < 1) {
    throw new IdxFormatError(
      `${file}: bad magic number 0x${magic.toString(16).padStart(8, '0')}; an IDX file of unsigned bytes starts with 0x000008NN (NN = number of dimensions). Check that the path names an IDX file.`,
    );
  }
  const headerBytes = 4 + 4 * dims;
  if (raw.length < headerBytes)
    throw new IdxFormatError(
      `${file}: the file is truncated inside its header (${raw.length} bytes, the header needs ${headerBytes}); download it again.`,
    );
  const shape: number[] = [];
  for (let d = 0; d < dims; d++) shape.push(view.getUint32(4 + 4 * d));
  const count = shape.reduce((a, b) => a * b, 1);
  if (raw.length < headerBytes + count)
    throw new IdxFormatError(
      `${file}: the file is truncated: the header declares shape [${shape.join(', ')}] (${count} bytes of data) but only ${raw.length - headerBytes} follow; download it again.`,
    );
  return { shape, data: raw.subarray(headerBytes, headerBytes + count) };
}

/** Reads and parses an IDX file. */
export async function readIdx(file: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new IdxFormatError(
      code === 'ENOENT'
        ? `${file}: file not found; pass --data-dir with the folder that holds the IDX files.`
        : `${file}: cannot read the file (${(error as Error).message}).`,
    );
  }
  return parseIdx(bytes, file);
}

/** Encodes unsigned bytes as an IDX file (uncompressed), for tests and derived data. */
export function encodeIdx(shape: readonly number[], data: Uint8Array): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length)
    throw new Error(
      `encodeIdx: shape [${shape.join(', ')}] needs ${count} bytes, got ${data.length}.`,
    );
  const out = new Uint8Array(4 + 4 * shape.length + count);
  const view = new DataView(out.buffer);
  out[2] = UNSIGNED_BYTE;
  out[3] = shape.length;
  shape.forEach((size, d) => view.setUint32(4 + 4 * d, size));
  out.set(data, 4 + 4 * shape.length);
  return out;
}
