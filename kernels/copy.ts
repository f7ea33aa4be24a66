// Buffer-to-buffer copies at byte offsets, recorded in order with the batched
// dispatches. A copy costs no compute dispatch, so stacking many small tensors
// this way avoids one dispatch per tensor.

import { copyEncoder } from './runtime';

/** Copies `byteLength` bytes from `source` at `sourceOffset` to `target` at `targetOffset`; offsets and length are multiples of 4. */
export function copyRegion(
  source: GPUBuffer,
  sourceOffset: number,
  target: GPUBuffer,
  targetOffset: number,
  byteLength: number,
): void {
  if (byteLength === 0) return;
  if (sourceOffset % 4 !== 0 || targetOffset % 4 !== 0 || byteLength % 4 !== 0)
    throw new Error(
      `copyRegion: offsets ${sourceOffset}, ${targetOffset} and length ${byteLength} must be multiples of 4 bytes.`,
    );
  copyEncoder().copyBufferToBuffer(source, sourceOffset, target, targetOffset, byteLength);
}
