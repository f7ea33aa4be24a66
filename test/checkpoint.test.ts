import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as mg from '../index';
import { expectClose } from './helpers';

const { nn } = mg;
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

function makeModel(): mg.nn.Sequential {
  return new nn.Sequential(
    new nn.Linear(4, 6),
    new nn.BatchNorm1d(6),
    new nn.ReLU(),
    new nn.Linear(6, 3),
  );
}

/** Deterministic host values for every tensor of makeModel(), so the written file is the same on every run. */
function hostState(model: mg.nn.Sequential): Map<string, Float32Array | Int32Array> {
  const out = new Map<string, Float32Array | Int32Array>();
  let k = 1;
  for (const [name, t] of model.stateDict()) {
    k += 1;
    if (t.dtype === 'i32')
      out.set(
        name,
        Int32Array.from({ length: t.size }, () => 3),
      );
    else if (name.endsWith('running_var'))
      out.set(
        name,
        Float32Array.from({ length: t.size }, (_, i) => 1 + 0.5 * Math.abs(Math.sin(k * 7 + i))),
      );
    else
      out.set(
        name,
        Float32Array.from({ length: t.size }, (_, i) => 0.8 * Math.sin(k * 13 + i * 1.7)),
      );
  }
  return out;
}

function loadHost(model: mg.nn.Sequential, state: Map<string, Float32Array | Int32Array>): void {
  const tensors = new Map<string, mg.Tensor>();
  for (const [name, t] of model.stateDict())
    tensors.set(name, mg.tensor(state.get(name)!, { shape: [...t.shape] }));
  model.loadStateDict(tensors);
}

async function snapshot(model: mg.nn.Module<never[], unknown>): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [name, t] of model.stateDict()) out[name] = Array.from(await t.data());
  return out;
}

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'metagrad-checkpoint-'));
}

describe('safetensors encoding', () => {
  it('round-trips tensors and metadata', () => {
    const tensors = new Map([
      [
        'a',
        {
          dtype: 'F32',
          shape: [2, 3],
          bytes: new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, 6.5]).buffer),
        },
      ],
      ['b', { dtype: 'I32', shape: [], bytes: new Uint8Array(Int32Array.from([-7]).buffer) }],
      ['empty', { dtype: 'F32', shape: [0, 4], bytes: new Uint8Array(0) }],
    ]);
    const image = mg.encodeSafetensors(tensors, { note: 'hi' });
    const headerLength = Number(new DataView(image.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const decoded = mg.decodeSafetensors(image, 'memory');
    expect(decoded.metadata).toEqual({ note: 'hi' });
    expect(decoded.tensors.get('a')!.shape).toEqual([2, 3]);
    expect(Array.from(new Float32Array(decoded.tensors.get('a')!.bytes.buffer))).toEqual([
      1, 2, 3, 4, 5, 6.5,
    ]);
    expect(Array.from(new Int32Array(decoded.tensors.get('b')!.bytes.buffer))).toEqual([-7]);
    expect(decoded.tensors.get('empty')!.shape).toEqual([0, 4]);

    // A Node Buffer at an odd offset decodes to tensors in their own buffers.
    const shifted = Buffer.alloc(image.length + 1);
    shifted.set(image, 1);
    const fromBuffer = mg.decodeSafetensors(shifted.subarray(1), 'buffer');
    const a = fromBuffer.tensors.get('a')!.bytes;
    expect(a.byteOffset).toBe(0);
    expect(a.buffer.byteLength).toBe(24);
    expect(Array.from(new Float32Array(a.buffer))).toEqual([1, 2, 3, 4, 5, 6.5]);
  });
});

describe('module checkpoints', () => {
  it('save and load round-trip a trained model', async () => {
    mg.manualSeed(11);
    const model = makeModel();
    model.forward(mg.randn([8, 4])); // moves the running statistics and num_batches_tracked
    const path = join(await tempDir(), 'model.safetensors');
    await mg.saveModule(path, model, { epoch: '3' });

    mg.manualSeed(12);
    const other = makeModel();
    expect(await snapshot(other)).not.toEqual(await snapshot(model));
    const firstParam = other.parameters()[0];
    const metadata = await mg.loadModule(path, other);
    expect(metadata).toEqual({ epoch: '3' });
    expect(other.parameters()[0], 'loading copies into the existing tensors').toBe(firstParam);
    expect(await snapshot(other)).toEqual(await snapshot(model));
  });

  it('writes a file that PyTorch reads', async () => {
    const model = makeModel();
    const state = hostState(model);
    loadHost(model, state);
    await mg.saveModule(join(fixtures, 'metagrad_model.safetensors'), model, {
      written_by: 'metagrad',
    });

    // safetensors_interop.py loaded the committed copy of this file with load_state_dict(strict=True).
    const report = JSON.parse(
      readFileSync(join(fixtures, 'safetensors_metagrad.json'), 'utf8'),
    ) as {
      metadata: Record<string, string>;
      tensors: Record<string, { dtype: string; shape: number[]; sum: number }>;
      x: number[];
      y: number[];
    };
    expect(report.metadata).toEqual({ written_by: 'metagrad' });
    expect(Object.keys(report.tensors)).toEqual([...state.keys()]);
    for (const [name, values] of state) {
      const sum = Array.from(values).reduce((s, v) => s + v, 0);
      expect(report.tensors[name].sum, name).toBeCloseTo(sum, 5);
      expect(report.tensors[name].shape, name).toEqual([...model.stateDict().get(name)!.shape]);
      expect(report.tensors[name].dtype, name).toBe(
        name.endsWith('num_batches_tracked') ? 'torch.int32' : 'torch.float32',
      );
    }
    model.eval();
    const y = model.forward(mg.tensor(report.x, { shape: [5, 4] }));
    expectClose(await y.data(), report.y, { atol: 1e-5 });
  });

  it('loads a file written by PyTorch', async () => {
    const expected = JSON.parse(readFileSync(join(fixtures, 'safetensors_torch.json'), 'utf8')) as {
      x: number[];
      y: number[];
    };
    const model = makeModel();
    const metadata = await mg.loadModule(join(fixtures, 'torch_model.safetensors'), model);
    expect(metadata).toEqual({ written_by: 'torch' });
    expect(await model.at(1).buffer('num_batches_tracked').item()).toBe(2);
    model.eval();
    const y = model.forward(mg.tensor(expected.x, { shape: [5, 4] }));
    expectClose(await y.data(), expected.y, { atol: 1e-5 });
  });
});

describe('corrupt and mismatched files', () => {
  async function goodImage(): Promise<{
    image: Uint8Array;
    headerEnd: number;
    header: Record<string, unknown>;
  }> {
    const image = new Uint8Array(await readFile(join(fixtures, 'torch_model.safetensors')));
    const length = Number(new DataView(image.buffer, image.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(image.subarray(8, 8 + length))) as Record<
      string,
      unknown
    >;
    return { image, headerEnd: 8 + length, header };
  }

  function withHeader(image: Uint8Array, headerEnd: number, header: unknown): Uint8Array {
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + image.length - headerEnd);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(image.subarray(headerEnd), 8 + json.length);
    return out;
  }

  type Entry = { dtype: string; shape: number[]; data_offsets: [number, number] };
  const cases: [string, (g: Awaited<ReturnType<typeof goodImage>>) => Uint8Array, RegExp][] = [
    ['truncated header', (g) => g.image.subarray(0, 5), /fewer than the 8-byte header length/],
    [
      'truncated data',
      (g) => g.image.subarray(0, g.image.length - 10),
      /outside the \d+ data bytes/,
    ],
    [
      'bad header length',
      (g) => {
        const copy = g.image.slice();
        new DataView(copy.buffer).setBigUint64(0, 1n << 40n, true);
        return copy;
      },
      /header length 1099511627776 exceeds/,
    ],
    [
      'header not JSON',
      (g) => {
        const copy = g.image.slice();
        copy[8] = 0x7a;
        return copy;
      },
      /header is not valid UTF-8 JSON/,
    ],
    [
      'unknown dtype',
      (g) =>
        withHeader(g.image, g.headerEnd, {
          ...g.header,
          '0.bias': { ...(g.header['0.bias'] as Entry), dtype: 'Q7' },
        }),
      /tensor "0.bias" has unknown dtype "Q7"/,
    ],
    [
      'offsets out of range',
      (g) =>
        withHeader(g.image, g.headerEnd, {
          ...g.header,
          '0.bias': { ...(g.header['0.bias'] as Entry), data_offsets: [0, 1 << 20] },
        }),
      /tensor "0.bias" has data_offsets \[0, 1048576\] outside/,
    ],
    [
      'size not matching shape',
      (g) =>
        withHeader(g.image, g.headerEnd, {
          ...g.header,
          '0.bias': { ...(g.header['0.bias'] as Entry), shape: [5] },
        }),
      /tensor "0.bias" spans 24 bytes, but F32 \[5\] needs 20/,
    ],
    [
      'overlapping tensors',
      (g) => {
        const bias = g.header['0.bias'] as Entry;
        const other = g.header['3.bias'] as Entry;
        return withHeader(g.image, g.headerEnd, {
          ...g.header,
          '3.bias': { ...other, data_offsets: [bias.data_offsets[0], bias.data_offsets[0] + 12] },
        });
      },
      /"0.bias" and "3.bias" overlap|"3.bias" and "0.bias" overlap/,
    ],
    [
      'wrong shape',
      (g) => {
        const weight = g.header['3.weight'] as Entry;
        return withHeader(g.image, g.headerEnd, {
          ...g.header,
          '3.weight': { ...weight, shape: [6, 3] },
        });
      },
      /tensor "3.weight" has dtype F32 and shape \[6, 3\], expected F32 \[3, 6\]/,
    ],
    [
      'wrong dtype',
      (g) => {
        const bias = g.header['0.bias'] as Entry;
        return withHeader(g.image, g.headerEnd, {
          ...g.header,
          '0.bias': { ...bias, dtype: 'I32' },
        });
      },
      /tensor "0.bias" has dtype I32 and shape \[6\], expected F32 \[6\]/,
    ],
    [
      'missing key',
      (g) => {
        const header = { ...g.header };
        delete header['1.running_var'];
        return withHeader(g.image, g.headerEnd, header);
      },
      /missing tensor "1.running_var" \(expected F32 \[6\]\)/,
    ],
    [
      'unexpected key',
      (g) => {
        const end = g.image.length - g.headerEnd;
        const extra = { dtype: 'F32', shape: [0], data_offsets: [end, end] };
        return withHeader(g.image, g.headerEnd, { ...g.header, 'extra.weight': extra });
      },
      /unexpected tensor "extra.weight"/,
    ],
  ];

  for (const [label, corrupt, message] of cases) {
    it(`${label} raises and leaves the model unchanged`, async () => {
      const path = join(await tempDir(), `${label.replace(/ /g, '-')}.safetensors`);
      await writeFile(path, corrupt(await goodImage()));
      mg.manualSeed(21);
      const model = makeModel();
      const before = await snapshot(model);
      const error = await mg.loadModule(path, model).then(
        () => null,
        (e: Error) => e,
      );
      expect(error, label).not.toBeNull();
      expect(error!.message).toMatch(message);
      expect(error!.message).toContain(path);
      expect(await snapshot(model)).toEqual(before);
    });
  }
});

describe('atomic writes', () => {
  it('leaves no temporary file after a save', async () => {
    const dir = await tempDir();
    await mg.saveModule(join(dir, 'm.safetensors'), makeModel());
    expect(await readdir(dir)).toEqual(['m.safetensors']);
  });

  it('keeps the previous file when a save fails', async () => {
    const dir = await tempDir();
    const path = join(dir, 'm.safetensors');
    await mg.saveModule(path, makeModel());
    const before = await readFile(path);

    // A disposed tensor fails while the data is read back, before the file is touched.
    const broken = makeModel();
    broken.at(0).param('weight').dispose();
    await expect(mg.saveModule(path, broken)).rejects.toThrow(/disposed/);
    expect(Buffer.compare(await readFile(path), before)).toBe(0);

    // A rename onto a directory fails after the temporary file is written; it is removed.
    const target = join(dir, 'taken');
    await mkdir(target);
    await expect(mg.saveModule(target, makeModel())).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(['m.safetensors', 'taken']);
  });
});

describe('optimizer checkpoints', () => {
  it('save and load restore the optimizer state', async () => {
    const w = mg.tensor([1, -2, 3], { requiresGrad: true });
    const opt = new mg.optim.Adam([{ params: [w], lr: 0.1, weightDecay: 0.01 }]);
    for (let i = 0; i < 3; i++) {
      opt.zeroGrad();
      mg.tidy(() => w.mul(w).sum().backward());
      opt.step();
    }
    const path = join(await tempDir(), 'opt.safetensors');
    await mg.saveOptimizer(path, opt);

    const w2 = mg.tensor([0, 0, 0], { requiresGrad: true });
    const opt2 = new mg.optim.Adam([w2], { lr: 1 });
    await mg.loadOptimizer(path, opt2);
    expect(opt2.paramGroups[0].lr).toBe(0.1);
    expect(opt2.paramGroups[0].weightDecay).toBe(0.01);
    const saved = opt.stateDict().state.get(0)!;
    const loaded = opt2.stateDict().state.get(0)!;
    expect(loaded.step).toBe(3);
    expect(Array.from(await loaded.tensors.exp_avg.data())).toEqual(
      Array.from(await saved.tensors.exp_avg.data()),
    );
    expect(Array.from(await loaded.tensors.exp_avg_sq.data())).toEqual(
      Array.from(await saved.tensors.exp_avg_sq.data()),
    );

    const mismatched = new mg.optim.Adam([mg.zeros([4], { requiresGrad: true })]);
    await expect(mg.loadOptimizer(path, mismatched)).rejects.toThrow(
      /opt.safetensors: .*expected f32 \[4\]/,
    );
    await expect(mg.loadOptimizer(join(fixtures, 'torch_model.safetensors'), opt2)).rejects.toThrow(
      /not an optimizer checkpoint/,
    );
  });
});
