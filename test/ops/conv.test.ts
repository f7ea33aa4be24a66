import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { expectClose, randomArray } from '../helpers';

type Pair = [number, number];

interface Geometry {
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  groups: number;
}

function geometry(options: {
  stride?: number | Pair;
  padding?: number | Pair;
  dilation?: number | Pair;
  groups?: number;
}): Geometry {
  const pair = (v: number | Pair | undefined, d: number): Pair =>
    v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v;
  return {
    stride: pair(options.stride, 1),
    padding: pair(options.padding, 0),
    dilation: pair(options.dilation, 1),
    groups: options.groups ?? 1,
  };
}

/** float64 conv2d: x [N, C_in, H, W], w [C_out, C_in / groups, KH, KW]. */
function conv2dRef(
  x: Float64Array,
  xShape: number[],
  w: Float64Array,
  wShape: number[],
  bias: Float64Array | null,
  g: Geometry,
): { data: Float64Array; shape: number[] } {
  const [N, C_in, H, W] = xShape;
  const [C_out, cinG, KH, KW] = wShape;
  const coutG = C_out / g.groups;
  const OH = Math.floor((H + 2 * g.padding[0] - g.dilation[0] * (KH - 1) - 1) / g.stride[0]) + 1;
  const OW = Math.floor((W + 2 * g.padding[1] - g.dilation[1] * (KW - 1) - 1) / g.stride[1]) + 1;
  const out = new Float64Array(N * C_out * OH * OW);
  for (let n = 0; n < N; n++)
    for (let co = 0; co < C_out; co++) {
      const grp = Math.floor(co / coutG);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let acc = bias ? bias[co] : 0;
          for (let ci = 0; ci < cinG; ci++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const ih = oh * g.stride[0] - g.padding[0] + kh * g.dilation[0];
                const iw = ow * g.stride[1] - g.padding[1] + kw * g.dilation[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const xv = x[((n * C_in + grp * cinG + ci) * H + ih) * W + iw];
                acc += xv * w[((co * cinG + ci) * KH + kh) * KW + kw];
              }
          out[((n * C_out + co) * OH + oh) * OW + ow] = acc;
        }
    }
  return { data: out, shape: [N, C_out, OH, OW] };
}

/** float64 transposed conv2d with PyTorch's layout: x [N, C_in, H, W], w [C_in, C_out / groups, KH, KW]. */
function convTranspose2dRef(
  x: Float64Array,
  xShape: number[],
  w: Float64Array,
  wShape: number[],
  bias: Float64Array | null,
  g: Geometry,
  outputPadding: Pair,
): { data: Float64Array; shape: number[] } {
  const [N, C_in, H, W] = xShape;
  const [, coutG, KH, KW] = wShape;
  const cinG = C_in / g.groups;
  const C_out = coutG * g.groups;
  const OH =
    (H - 1) * g.stride[0] - 2 * g.padding[0] + g.dilation[0] * (KH - 1) + outputPadding[0] + 1;
  const OW =
    (W - 1) * g.stride[1] - 2 * g.padding[1] + g.dilation[1] * (KW - 1) + outputPadding[1] + 1;
  const out = new Float64Array(N * C_out * OH * OW);
  for (let n = 0; n < N; n++)
    for (let co = 0; co < C_out; co++)
      for (let i = 0; i < OH * OW; i++) out[(n * C_out + co) * OH * OW + i] = bias ? bias[co] : 0;
  for (let n = 0; n < N; n++)
    for (let ci = 0; ci < C_in; ci++) {
      const grp = Math.floor(ci / cinG);
      for (let h = 0; h < H; h++)
        for (let wi = 0; wi < W; wi++) {
          const xv = x[((n * C_in + ci) * H + h) * W + wi];
          for (let c = 0; c < coutG; c++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const oh = h * g.stride[0] - g.padding[0] + kh * g.dilation[0];
                const ow = wi * g.stride[1] - g.padding[1] + kw * g.dilation[1];
                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                const co = grp * coutG + c;
                out[((n * C_out + co) * OH + oh) * OW + ow] +=
                  xv * w[((ci * coutG + c) * KH + kh) * KW + kw];
              }
        }
    }
  return { data: out, shape: [N, C_out, OH, OW] };
}

/** float64 gradient of sum(conv2d(x, w) * gy) with respect to w. */
function weightGradRef(
  x: Float64Array,
  xShape: number[],
  gy: Float64Array,
  gyShape: number[],
  wShape: number[],
  g: Geometry,
): Float64Array {
  const [N, C_in, H, W] = xShape;
  const [, C_out, OH, OW] = gyShape;
  const [, cinG, KH, KW] = wShape;
  const coutG = C_out / g.groups;
  const out = new Float64Array(C_out * cinG * KH * KW);
  for (let co = 0; co < C_out; co++) {
    const grp = Math.floor(co / coutG);
    for (let ci = 0; ci < cinG; ci++)
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KW; kw++) {
          let acc = 0;
          for (let n = 0; n < N; n++)
            for (let oh = 0; oh < OH; oh++)
              for (let ow = 0; ow < OW; ow++) {
                const ih = oh * g.stride[0] - g.padding[0] + kh * g.dilation[0];
                const iw = ow * g.stride[1] - g.padding[1] + kw * g.dilation[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc +=
                  x[((n * C_in + grp * cinG + ci) * H + ih) * W + iw] *
                  gy[((n * C_out + co) * OH + oh) * OW + ow];
              }
          out[((co * cinG + ci) * KH + kh) * KW + kw] = acc;
        }
  }
  return out;
}

const product = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function upload(data: Float64Array, shape: number[], requiresGrad = false): mg.Tensor {
  return mg.tensor(Float32Array.from(data), { shape, requiresGrad });
}

interface Case {
  name: string;
  x: number[];
  w: number[];
  bias: boolean;
  options: {
    stride?: number | Pair;
    padding?: number | Pair;
    dilation?: number | Pair;
    groups?: number;
  };
}

const cases: Case[] = [
  { name: '3x3 plain', x: [1, 3, 5, 5], w: [4, 3, 3, 3], bias: false, options: {} },
  {
    name: 'odd sizes, bias',
    x: [3, 5, 7, 9],
    w: [6, 5, 3, 2],
    bias: true,
    options: { padding: 1 },
  },
  {
    name: 'stride 2 padding 1 on 7x9',
    x: [3, 3, 7, 9],
    w: [5, 3, 3, 3],
    bias: true,
    options: { stride: 2, padding: 1 },
  },
  {
    name: 'dilation 2',
    x: [2, 4, 9, 8],
    w: [7, 4, 3, 3],
    bias: false,
    options: { dilation: 2, padding: 2 },
  },
  {
    name: 'groups 2',
    x: [3, 6, 6, 7],
    w: [10, 3, 3, 3],
    bias: true,
    options: { groups: 2, padding: 1 },
  },
  {
    name: 'groups 4, 5 channels each',
    x: [1, 8, 5, 6],
    w: [20, 2, 3, 3],
    bias: false,
    options: { groups: 4, stride: [2, 1], padding: [1, 0] },
  },
  { name: '1x1 kernel', x: [3, 7, 4, 5], w: [9, 7, 1, 1], bias: true, options: {} },
  {
    name: 'rectangular kernel, mixed pairs',
    x: [2, 3, 10, 11],
    w: [6, 3, 2, 4],
    bias: false,
    options: { stride: [1, 3], padding: [0, 2], dilation: [2, 1] },
  },
  {
    name: '3x5 kernel, wide padding',
    x: [2, 3, 6, 5],
    w: [4, 3, 3, 5],
    bias: false,
    options: { padding: [1, 2] },
  },
  {
    name: '1x7 kernel, generic path',
    x: [2, 3, 5, 12],
    w: [5, 3, 1, 7],
    bias: true,
    options: { padding: [0, 3] },
  },
  {
    name: 'many workgroups',
    x: [4, 16, 14, 14],
    w: [32, 16, 3, 3],
    bias: true,
    options: { padding: 1 },
  },
];

describe('conv2d forward', () => {
  for (const [k, c] of cases.entries()) {
    it(c.name, async () => {
      const g = geometry(c.options);
      const x = randomArray(product(c.x), 10 + k);
      const w = randomArray(product(c.w), 40 + k);
      const bias = c.bias ? randomArray(c.w[0], 70 + k) : null;
      const expected = conv2dRef(x, c.x, w, c.w, bias, g);
      const y = mg.conv2d(
        upload(x, c.x),
        upload(w, c.w),
        bias ? upload(bias, [c.w[0]]) : undefined,
        c.options,
      );
      expect(y.shape).toEqual(expected.shape);
      expectClose(await y.data(), expected.data, { atol: 1e-4 });
    });
  }
});

describe('conv2d backward', () => {
  for (const [k, c] of cases.entries()) {
    it(c.name, async () => {
      const g = geometry(c.options);
      const xData = randomArray(product(c.x), 110 + k);
      const wData = randomArray(product(c.w), 140 + k);
      const x = upload(xData, c.x, true);
      const w = upload(wData, c.w, true);
      const y = mg.conv2d(x, w, undefined, c.options);
      const gyData = randomArray(y.size, 170 + k);
      const [dx, dw] = mg.grad(y, [x, w], { gradOutputs: upload(gyData, [...y.shape]) });

      // dx is the adjoint of conv in x: the transposed convolution of gy with the
      // output padding that recovers x's size.
      const outputPadding = [0, 1].map(
        (axis) =>
          c.x[2 + axis] -
          ((y.shape[2 + axis] - 1) * g.stride[axis] -
            2 * g.padding[axis] +
            g.dilation[axis] * (c.w[2 + axis] - 1) +
            1),
      ) as Pair;
      const expectedDx = convTranspose2dRef(
        gyData,
        [...y.shape],
        wData,
        c.w,
        null,
        g,
        outputPadding,
      );
      expect(expectedDx.shape).toEqual(c.x);
      expectClose(await dx!.data(), expectedDx.data, { atol: 1e-4 });
      const expectedDw = weightGradRef(xData, c.x, gyData, [...y.shape], c.w, g);
      expectClose(await dw!.data(), expectedDw, { atol: 2e-4 });
    });
  }

  it('bias gradient sums over N, H and W', async () => {
    const x = upload(randomArray(2 * 3 * 5 * 4, 1), [2, 3, 5, 4]);
    const w = upload(randomArray(4 * 3 * 3 * 3, 2), [4, 3, 3, 3]);
    const b = upload(randomArray(4, 3), [4], true);
    const y = mg.conv2d(x, w, b, { padding: 1 });
    const gyData = randomArray(y.size, 4);
    const [db] = mg.grad(y, b, { gradOutputs: upload(gyData, [...y.shape]) });
    const expected = new Float64Array(4);
    for (let i = 0; i < gyData.length; i++) expected[Math.floor(i / 20) % 4] += gyData[i];
    expectClose(await db!.data(), expected, { atol: 1e-4 });
  });
});

describe('convTranspose2d forward', () => {
  const transposeCases: (Case & { outputPadding?: number | Pair })[] = [
    { name: 'plain', x: [1, 3, 4, 5], w: [3, 4, 3, 3], bias: false, options: {} },
    {
      name: 'stride 2 padding 1 output padding 1',
      x: [3, 4, 7, 9],
      w: [4, 5, 3, 3],
      bias: true,
      options: { stride: 2, padding: 1 },
      outputPadding: 1,
    },
    {
      name: 'dilation 2, groups 2',
      x: [2, 6, 5, 4],
      w: [6, 3, 3, 2],
      bias: true,
      options: { dilation: 2, groups: 2, padding: [1, 0] },
    },
    {
      name: 'groups 4, stride [2, 3]',
      x: [3, 8, 4, 5],
      w: [8, 5, 2, 3],
      bias: false,
      options: { groups: 4, stride: [2, 3] },
      outputPadding: [1, 2],
    },
    { name: '1x1 kernel', x: [2, 5, 3, 6], w: [5, 7, 1, 1], bias: true, options: {} },
  ];
  for (const [k, c] of transposeCases.entries()) {
    it(c.name, async () => {
      const g = geometry(c.options);
      const op = c.outputPadding ?? 0;
      const outputPadding: Pair = typeof op === 'number' ? [op, op] : op;
      const x = randomArray(product(c.x), 210 + k);
      const w = randomArray(product(c.w), 240 + k);
      const bias = c.bias ? randomArray(c.w[1] * g.groups, 270 + k) : null;
      const expected = convTranspose2dRef(x, c.x, w, c.w, bias, g, outputPadding);
      const y = mg.convTranspose2d(
        upload(x, c.x),
        upload(w, c.w),
        bias ? upload(bias, [bias.length]) : undefined,
        { ...c.options, outputPadding: c.outputPadding },
      );
      expect(y.shape).toEqual(expected.shape);
      expectClose(await y.data(), expected.data, { atol: 1e-4 });
    });
  }
});

describe('conv gradcheck', () => {
  const tol = { atol: 2e-2, rtol: 2e-2, eps: 1e-2 };

  it('conv2d: stride 2, padding, bias', async () => {
    const x = upload(randomArray(1 * 2 * 5 * 5, 301), [1, 2, 5, 5], true);
    const w = upload(randomArray(3 * 2 * 3 * 3, 302), [3, 2, 3, 3], true);
    const b = upload(randomArray(3, 303), [3], true);
    const f = (a: mg.Tensor, v: mg.Tensor, c: mg.Tensor) =>
      mg.conv2d(a, v, c, { stride: 2, padding: 1 });
    expect(await mg.gradcheck(f, [x, w, b], tol)).toBe(true);
    expect(await mg.gradgradcheck(f, [x, w, b], tol)).toBe(true);
  });

  it('conv2d: dilation 2, groups 2', async () => {
    const x = upload(randomArray(2 * 4 * 5 * 6, 311), [2, 4, 5, 6], true);
    const w = upload(randomArray(4 * 2 * 2 * 2, 312), [4, 2, 2, 2], true);
    const f = (a: mg.Tensor, v: mg.Tensor) =>
      mg.conv2d(a, v, undefined, { dilation: 2, groups: 2, padding: [1, 0], stride: [1, 2] });
    expect(await mg.gradcheck(f, [x, w], tol)).toBe(true);
    expect(await mg.gradgradcheck(f, [x, w], tol)).toBe(true);
  });

  it('conv2d second order through tanh', async () => {
    // A nonlinearity between the two uses makes the Hessian depend on every rule.
    const x = upload(randomArray(1 * 2 * 5 * 4, 321), [1, 2, 5, 4], true);
    const w = upload(randomArray(2 * 2 * 3 * 3, 322), [2, 2, 3, 3], true);
    const f = (a: mg.Tensor, v: mg.Tensor) =>
      mg.tanh(mg.conv2d(a, v, undefined, { stride: 2, padding: 1 }));
    expect(await mg.gradgradcheck(f, [x, w], tol)).toBe(true);
  });

  it('convTranspose2d: stride 2, dilation, groups, bias', async () => {
    const x = upload(randomArray(2 * 4 * 3 * 3, 331), [2, 4, 3, 3], true);
    const w = upload(randomArray(4 * 1 * 3 * 2, 332), [4, 1, 3, 2], true);
    const b = upload(randomArray(2, 333), [2], true);
    const f = (a: mg.Tensor, v: mg.Tensor, c: mg.Tensor) =>
      mg.convTranspose2d(a, v, c, {
        stride: 2,
        padding: 1,
        outputPadding: [1, 0],
        dilation: [1, 2],
        groups: 2,
      });
    expect(await mg.gradcheck(f, [x, w, b], tol)).toBe(true);
    expect(await mg.gradgradcheck(f, [x, w, b], tol)).toBe(true);
  });

  it('conv2dWeightGrad', async () => {
    const x = upload(randomArray(2 * 2 * 5 * 5, 341), [2, 2, 5, 5], true);
    const gy = upload(randomArray(2 * 4 * 3 * 3, 342), [2, 4, 3, 3], true);
    const f = (a: mg.Tensor, v: mg.Tensor) =>
      mg.tanh(mg.conv2dWeightGrad(a, v, 3, { stride: 2, padding: 1, groups: 2 }));
    expect(await mg.gradcheck(f, [x, gy], tol)).toBe(true);
    expect(await mg.gradgradcheck(f, [x, gy], tol)).toBe(true);
  });
});

describe('conv errors', () => {
  const x = mg.zeros([2, 6, 5, 5]);
  it('channel mismatch', () => {
    expect(() => mg.conv2d(x, mg.zeros([4, 5, 3, 3]))).toThrow(
      /conv2d: weight \[4, 5, 3, 3\] expects 5 input channels .* \[2, 6, 5, 5\] has 6/,
    );
  });
  it('groups not dividing channels', () => {
    expect(() => mg.conv2d(x, mg.zeros([5, 3, 3, 3]), undefined, { groups: 2 })).toThrow(
      /conv2d: groups = 2 must divide .*output channels \(5/,
    );
    expect(() => mg.conv2d(x, mg.zeros([4, 2, 3, 3]), undefined, { groups: 4 })).toThrow(
      /conv2d: groups = 4 must divide both the input channels \(6/,
    );
  });
  it('input smaller than the kernel', () => {
    expect(() => mg.conv2d(x, mg.zeros([4, 6, 3, 3]), undefined, { dilation: 3 })).toThrow(
      /conv2d: the input of shape \[2, 6, 5, 5\] .* smaller than the dilated kernel \(7\)/,
    );
  });
  it('wrong rank and bias shape', () => {
    expect(() => mg.conv2d(mg.zeros([6, 5, 5]), mg.zeros([4, 6, 3, 3]))).toThrow(
      /conv2d: expected an input of shape \[N, C, H, W\]; got \[6, 5, 5\]/,
    );
    expect(() => mg.conv2d(x, mg.zeros([4, 6, 3, 3]), mg.zeros([3]))).toThrow(
      /conv2d: bias has shape \[3\]; expected \[4\]/,
    );
  });
  it('invalid stride', () => {
    expect(() => mg.conv2d(x, mg.zeros([4, 6, 3, 3]), undefined, { stride: 0 })).toThrow(
      /conv2d: stride must be an integer >= 1/,
    );
  });
  it('convTranspose2d checks', () => {
    expect(() => mg.convTranspose2d(x, mg.zeros([5, 2, 3, 3]))).toThrow(
      /convTranspose2d: weight \[5, 2, 3, 3\] expects 5 input channels/,
    );
    expect(() =>
      mg.convTranspose2d(x, mg.zeros([6, 2, 3, 3]), undefined, { stride: 2, outputPadding: 2 }),
    ).toThrow(/convTranspose2d: outputPadding 2 must be smaller than the stride 2/);
    expect(() =>
      mg.convTranspose2d(mg.zeros([1, 6, 1, 1]), mg.zeros([6, 2, 1, 1]), undefined, { padding: 1 }),
    ).toThrow(/convTranspose2d: .* gives an output of size -1/);
  });
});

describe('conv net second order', () => {
  it('conv, tanh, maxPool2d, conv', async () => {
    // The shape of one MAML inner step: the Hessian-vector products go through both
    // convolutions and the pooling gather, in every backward rule.
    const x = upload(randomArray(2 * 2 * 6 * 6, 401), [2, 2, 6, 6]);
    const w1 = upload(randomArray(4 * 2 * 3 * 3, 402), [4, 2, 3, 3], true);
    const b1 = upload(randomArray(4, 403), [4], true);
    const w2 = upload(randomArray(3 * 4 * 3 * 3, 404), [3, 4, 3, 3], true);
    const net = (a: mg.Tensor, b: mg.Tensor, c: mg.Tensor) => {
      const hidden = mg.tanh(mg.conv2d(x, a, b, { padding: 1 }));
      return mg.conv2d(mg.maxPool2d(hidden, { kernelSize: 2 }), c, undefined, { padding: 1 });
    };
    // A small step keeps every pooling window's argmax fixed.
    const tol = { atol: 3e-2, rtol: 3e-2, eps: 1e-3 };
    expect(await mg.gradcheck(net, [w1, b1, w2], tol)).toBe(true);
    expect(await mg.gradgradcheck(net, [w1, b1, w2], tol)).toBe(true);
  });
});
