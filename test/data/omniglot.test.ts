import { mkdtemp, readFile, rm, writeFile, mkdir, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOmniglot, decodeImage, type OmniglotData } from '../../data/omniglot';
import {
  omniglotSplits,
  materialize,
  fixedEpisodes,
  sampleEpisode,
  checkEpisodeShape,
} from '../../data/episodes';
import { Rng } from '../../data/rng';
import { expectClose } from '../helpers';
import { OMNIGLOT_DIR } from './paths';

let cacheDir: string;
let data: OmniglotData;

beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'mg-omniglot-cache-'));
  data = await loadOmniglot(OMNIGLOT_DIR, { cacheDir });
});

afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

// An independent resize: upsample 105 -> 420 by repetition (x4), then average 15x15 blocks (420 / 28).
function referenceResize(bytes: Uint8Array): Float64Array {
  const png = PNG.sync.read(Buffer.from(bytes));
  const out = new Float64Array(28 * 28);
  for (let y = 0; y < 420; y++) {
    for (let x = 0; x < 420; x++) {
      const ink = 1 - png.data[4 * (Math.floor(y / 4) * 105 + Math.floor(x / 4))] / 255;
      out[Math.floor(y / 15) * 28 + Math.floor(x / 15)] += ink / 225;
    }
  }
  return out;
}

describe('Omniglot loader', () => {
  it('counts alphabets, characters and images', () => {
    const background = data.characters.filter((c) => c.set === 'images_background');
    const evaluation = data.characters.filter((c) => c.set === 'images_evaluation');
    expect(new Set(background.map((c) => c.alphabet)).size).toBe(30);
    expect(new Set(evaluation.map((c) => c.alphabet)).size).toBe(20);
    expect(background.length).toBe(964);
    expect(evaluation.length).toBe(659);
    expect(data.characters.every((c) => c.imageCount === 20)).toBe(true);
    expect(data.pixels.length).toBe(32460 * 28 * 28);
  });

  it('decodes an image to its area-averaged 28x28 values', async () => {
    const zip = unzipSync(
      new Uint8Array(await readFile(join(OMNIGLOT_DIR, 'images_background.zip'))),
      {
        filter: (f) => f.name === 'images_background/Greek/character03/0396_07.png',
      },
    );
    const bytes = Object.values(zip)[0];
    const expected = referenceResize(bytes);
    expectClose(decodeImage(bytes, 28), expected, { atol: 1e-5 });

    // The same image through the loader, quantized to bytes.
    const character = data.characters.find(
      (c) => c.alphabet === 'Greek' && c.character === 'character03',
    )!;
    const offset = (character.firstImage + 6) * 784;
    const loaded = Array.from(data.pixels.subarray(offset, offset + 784), (v) => v / 255);
    expectClose(loaded, expected, { atol: 0.5 / 255 + 1e-6 });
    expect(expected.some((v) => v > 0.5)).toBe(true);
  });

  it('rotates by quarter turns counter-clockwise', () => {
    const splits = omniglotSplits(data, { rotations: true });
    const [plain, turned] = [0, 1].map((r) => splits.train.classes[r]);
    expect(turned.rotation).toBe(1);
    const spec = { classes: [0, 1], picks: [[0], [0]] };
    const episode = materialize(splits.train, spec, { ways: 2, shots: 1, queries: 0 });
    const a = episode.supportX.subarray(0, 784);
    const b = episode.supportX.subarray(784, 1568);
    expect(plain.images[0]).toBe(turned.images[0]);
    // np.rot90: out[y][x] = in[x][27 - y].
    for (const [y, x] of [
      [0, 0],
      [3, 20],
      [27, 5],
      [14, 14],
    ])
      expect(b[y * 28 + x]).toBe(a[x * 28 + 27 - y]);
  });

  it('splits characters disjointly', () => {
    for (const split of ['vinyals', 'lake'] as const) {
      const { train, val, test } = omniglotSplits(data, { split, rotations: false });
      const names = [train, val, test].map((s) => new Set(s.classes.map((c) => c.name)));
      expect(names[0].size + names[1].size + names[2].size).toBe(1623);
      for (const [i, j] of [
        [0, 1],
        [0, 2],
        [1, 2],
      ]) {
        expect([...names[i]].filter((n) => names[j].has(n))).toEqual([]);
      }
      if (split === 'vinyals') expect(names[0].size + names[1].size).toBe(1200);
      else expect(names[2].size).toBe(659);
    }
  });

  it('samples episodes reproducibly with remapped labels', () => {
    const { test } = omniglotSplits(data);
    const shape = { ways: 5, shots: 1, queries: 15 };
    const a = fixedEpisodes(test, shape, 10, 42);
    const b = fixedEpisodes(test, shape, 10, 42);
    expect(a).toEqual(b);
    for (const spec of a) expect(new Set(spec.classes).size).toBe(5);
    const episode = materialize(test, a[0], shape);
    expect(Array.from(episode.supportY)).toEqual([0, 1, 2, 3, 4]);
    expect(episode.queryY.length).toBe(75);
    expect(episode.queryX.length).toBe(75 * 784);
    const other = sampleEpisode(test, shape, new Rng(43));
    expect(other).not.toEqual(a[0]);
  });

  it('rejects impossible episode shapes naming the option', () => {
    const { val } = omniglotSplits(data, { rotations: false });
    expect(() => checkEpisodeShape(val, { ways: 101, shots: 1, queries: 1 })).toThrow(
      /--ways 101 .* 100 classes/,
    );
    expect(() => checkEpisodeShape(val, { ways: 5, shots: 10, queries: 11 })).toThrow(
      /--shots 10 plus --queries 11/,
    );
  });

  it('reads extracted folders and rebuilds the cache when a file changes', async () => {
    const root = await mkdtemp(join(tmpdir(), 'mg-omniglot-folder-'));
    try {
      // A small copy: two characters per set, as extracted folders.
      for (const set of ['images_background', 'images_evaluation']) {
        const zip = unzipSync(new Uint8Array(await readFile(join(OMNIGLOT_DIR, `${set}.zip`))), {
          filter: (f) => /\/(Greek|ULOG)\/character0[12]\/.*\.png$/.test(f.name),
        });
        for (const [name, bytes] of Object.entries(zip)) {
          await mkdir(join(root, name, '..'), { recursive: true });
          await writeFile(join(root, name), bytes);
        }
      }
      const cache = join(root, 'cache');
      const first = await loadOmniglot(root, { cacheDir: cache });
      expect(first.characters.length).toBe(4);
      const cached = await loadOmniglot(root, { cacheDir: cache });
      expect(cached.pixels).toEqual(first.pixels);

      // Replace one image by a blank one: the cache must be rebuilt.
      const dir = join(root, 'images_background', 'Greek', 'character01');
      const file = (await readdir(dir)).sort()[0];
      const blank = new PNG({ width: 105, height: 105 });
      blank.data.fill(255);
      await writeFile(join(dir, file), PNG.sync.write(blank));
      const rebuilt = await loadOmniglot(root, { cacheDir: cache });
      const index = rebuilt.characters.find(
        (c) => c.alphabet === 'Greek' && c.character === 'character01',
      )!.firstImage;
      expect(rebuilt.pixels.subarray(index * 784, index * 784 + 784).every((v) => v === 0)).toBe(
        true,
      );
      expect(first.pixels.subarray(index * 784, index * 784 + 784).some((v) => v > 0)).toBe(true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('names the missing folder and the fix', async () => {
    await expect(loadOmniglot('/nonexistent/omniglot')).rejects.toThrow(
      /does not exist.*metagrad data omniglot/,
    );
  });
});
