// JPEG fixtures for the image-set tests. colourJpeg encodes with jpeg-js.
// greyJpeg writes a baseline one-component file by hand, because jpeg-js
// encodes colour files only and the CUB and ImageNet photos include some
// greyscale JPEGs.
//
// greyJpeg makes every 8x8 block one flat grey level, so only its DC
// coefficient is nonzero: with a quantisation table of ones, a block of level
// v has DC 8 (v - 128), and the decoder's inverse DCT gives back exactly v.

import { encode as encodeJpeg } from 'jpeg-js';

function segment(marker: number, body: number[]): number[] {
  const length = body.length + 2;
  return [0xff, marker, length >> 8, length & 0xff, ...body];
}

/** Appends bits most significant first and byte-stuffs 0xFF as the format requires. */
class BitWriter {
  readonly bytes: number[] = [];
  private current = 0;
  private filled = 0;

  write(value: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) {
      this.current = (this.current << 1) | ((value >> i) & 1);
      this.filled += 1;
      if (this.filled === 8) this.flushByte();
    }
  }

  /** Pads the last byte with one bits, as the JPEG standard requires. */
  finish(): number[] {
    while (this.filled !== 0) this.write(1, 1);
    return this.bytes;
  }

  private flushByte(): void {
    this.bytes.push(this.current);
    if (this.current === 0xff) this.bytes.push(0x00);
    this.current = 0;
    this.filled = 0;
  }
}

/**
 * Encodes a width x height greyscale JPEG (both multiples of 8) whose block at
 * block column bx and block row by has the grey level level(bx, by).
 */
export function greyJpeg(
  width: number,
  height: number,
  level: (bx: number, by: number) => number,
): Uint8Array {
  if (width % 8 !== 0 || height % 8 !== 0)
    throw new Error(`greyJpeg: ${width}x${height} is not a multiple of 8 on both sides.`);
  // DC table: categories 0-11, each a 4-bit code equal to the category.
  // AC table: one symbol, end-of-block (0x00), coded as the single bit 0.
  const dcCounts = Array.from({ length: 16 }, (_, i) => (i === 3 ? 12 : 0));
  const acCounts = Array.from({ length: 16 }, (_, i) => (i === 0 ? 1 : 0));
  const header = [
    0xff,
    0xd8,
    ...segment(0xdb, [0x00, ...new Array<number>(64).fill(1)]),
    ...segment(0xc0, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0]),
    ...segment(0xc4, [0x00, ...dcCounts, ...Array.from({ length: 12 }, (_, i) => i)]),
    ...segment(0xc4, [0x10, ...acCounts, 0x00]),
    ...segment(0xda, [1, 1, 0x00, 0, 63, 0]),
  ];
  const bits = new BitWriter();
  let previous = 0;
  for (let by = 0; by < height / 8; by++) {
    for (let bx = 0; bx < width / 8; bx++) {
      const dc = 8 * (Math.round(level(bx, by)) - 128);
      const diff = dc - previous;
      previous = dc;
      const magnitude = Math.abs(diff);
      const category = magnitude === 0 ? 0 : Math.floor(Math.log2(magnitude)) + 1;
      bits.write(category, 4);
      // A negative difference is sent as its ones' complement in `category` bits.
      if (category > 0) bits.write(diff > 0 ? diff : diff + (1 << category) - 1, category);
      bits.write(0, 1);
    }
  }
  return Uint8Array.from([...header, ...bits.finish(), 0xff, 0xd9]);
}

/** Encodes a width x height colour JPEG with jpeg-js (quality 95) whose pixel (x, y) is rgb(x, y). */
export function colourJpeg(
  width: number,
  height: number,
  rgb: (x: number, y: number) => [number, number, number],
): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set([...rgb(x, y), 255], (y * width + x) * 4);
  return encodeJpeg({ width, height, data }, 95).data;
}
