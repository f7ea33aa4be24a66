import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeIdx, parseIdx, readIdx } from '../../data/idx';
import {
  DEFAULT_FASHION_MNIST_DIR,
  loadFashionMnist,
  makeTextures,
  shiftDomain,
  transferSplit,
} from '../../data/fashion-mnist';

// The IDX reader on files written here, then the real Fashion-MNIST files:
// the transfer split and the shifted domains.

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

describe('IDX reader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'idx-'));
  const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 7);

  it('reads plain and gzip files', async () => {
    const plain = join(dir, 'plain-idx3-ubyte');
    writeFileSync(plain, encodeIdx([2, 3, 4], data));
    const gz = join(dir, 'packed-idx3-ubyte.gz');
    writeFileSync(gz, gzipSync(encodeIdx([2, 3, 4], data)));
    for (const file of [plain, gz]) {
      const parsed = await readIdx(file);
      expect(parsed.shape).toEqual([2, 3, 4]);
      expect(Array.from(parsed.data)).toEqual(Array.from(data));
    }
  });

  it('rejects a bad magic number naming the file', async () => {
    const file = join(dir, 'bad-magic.gz');
    const bytes = encodeIdx([2, 3, 4], data);
    bytes[2] = 0x0d;
    writeFileSync(file, gzipSync(bytes));
    await expect(readIdx(file)).rejects.toThrow(`${file}: bad magic number 0x00000d03`);
  });

  it('rejects truncated data naming the file', async () => {
    const file = join(dir, 'short.gz');
    writeFileSync(file, gzipSync(encodeIdx([2, 3, 4], data).subarray(0, 30)));
    await expect(readIdx(file)).rejects.toThrow(
      `${file}: the file is truncated: the header declares shape [2, 3, 4]`,
    );
  });

  it('rejects a truncated header and a cut gzip stream', async () => {
    expect(() => parseIdx(encodeIdx([2, 3, 4], data).subarray(0, 9), 'head')).toThrow(
      'head: the file is truncated inside its header',
    );
    const gz = gzipSync(encodeIdx([2, 3, 4], data));
    expect(() => parseIdx(gz.subarray(0, gz.length - 12), 'cut.gz')).toThrow(
      'cut.gz: the gzip stream is damaged or truncated',
    );
  });

  it('names a missing file and the option to fix it', async () => {
    const file = join(dir, 'absent.gz');
    await expect(readIdx(file)).rejects.toThrow(`${file}: file not found; pass --data-dir`);
  });
});

describe('Fashion-MNIST', async () => {
  const data = await loadFashionMnist(DEFAULT_FASHION_MNIST_DIR);

  it('loads both splits', () => {
    expect(data.train.labels.length).toBe(60000);
    expect(data.test.labels.length).toBe(10000);
    expect(data.train.store.height).toBe(28);
    expect(data.train.store.pixels.length).toBe(60000 * 784);
  });

  it('splits source and target classes', () => {
    const split = transferSplit(data, 5, 3);
    expect(split.sourceTrain.labels.length).toBe(30000);
    expect(split.targetTest.labels.length).toBe(5000);
    expect(split.targetTrain.labels.length).toBe(25);
    const counts = [0, 0, 0, 0, 0];
    for (const label of split.targetTrain.labels) counts[label]++;
    expect(counts).toEqual([5, 5, 5, 5, 5]);
  });

  it('draws nested seeded shots', () => {
    const one = transferSplit(data, 1, 3).targetTrain;
    const ten = transferSplit(data, 10, 3).targetTrain;
    const again = transferSplit(data, 10, 3).targetTrain;
    expect(sameBytes(again.store.pixels, ten.store.pixels)).toBe(true);
    // The single image of class c is the first of its ten.
    for (let c = 0; c < 5; c++) {
      const a = one.store.pixels.subarray(c * 784, (c + 1) * 784);
      const b = ten.store.pixels.subarray(c * 10 * 784, (c * 10 + 1) * 784);
      expect(Array.from(a)).toEqual(Array.from(b));
    }
    const other = transferSplit(data, 10, 4).targetTrain;
    expect(sameBytes(other.store.pixels, ten.store.pixels)).toBe(false);
  });

  it('rejects invalid shots', () => {
    expect(() => transferSplit(data, 0, 1)).toThrow('--shots 0 is invalid');
  });

  it('builds reproducible shifted domains', () => {
    const test = transferSplit(data, 1, 1).targetTest;
    const blended = shiftDomain(test, 'blended', { seed: 5 });
    expect(blended.store.channels).toBe(3);
    expect(
      sameBytes(shiftDomain(test, 'blended', { seed: 5 }).store.pixels, blended.store.pixels),
    ).toBe(true);
    expect(Array.from(makeTextures(6).subarray(0, 100))).not.toEqual(
      Array.from(makeTextures(5).subarray(0, 100)),
    );
    // The blend is |patch - image|: a pixel where the image is 0 shows the patch itself.
    const grey = test.store.pixels;
    const colour = blended.store.pixels;
    const zero = grey.findIndex((v) => v === 0);
    const channelsDiffer =
      colour[zero] !== colour[784 + zero] || colour[zero] !== colour[2 * 784 + zero];
    expect(channelsDiffer).toBe(true);

    const inverted = shiftDomain(test, 'inverted');
    expect(inverted.store.pixels[100]).toBe(255 - grey[100]);
    const rotated = shiftDomain(test, 'rotated', { angle: 90, channels: 3 });
    // A 90 degree counter-clockwise turn moves the pixel at (y, x) to (27 - x, y).
    expect(rotated.store.pixels[(27 - 20) * 28 + 10]).toBe(grey[10 * 28 + 20]);
    expect(rotated.store.channels).toBe(3);
  });
});
