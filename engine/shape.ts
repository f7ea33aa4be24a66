// Shape arithmetic shared by the ops: sizes, strides, broadcasting and axis lists.

export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Returns row-major (C-order) strides, in elements. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Returns the broadcast shape of two shapes under NumPy/PyTorch rules, or throws naming the op. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(
        `${op}: shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast ` +
          `(dimension ${i} of the broadcast result is ${da} in one and ${db} in the other).`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Returns the strides with which an input of `shape` is read when broadcast to
 * `target`: 0 where the input has size 1 or lacks the dimension.
 */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const own = stridesOf(shape);
  const offset = target.length - shape.length;
  return target.map((_, i) => (i < offset || shape[i - offset] === 1 ? 0 : own[i - offset]));
}

/** Normalizes a possibly negative axis into [0, rank), or throws naming the op. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1)) {
    throw new Error(
      `${op}: axis ${axis} is out of range for a tensor of rank ${rank}; use an axis in [${-rank}, ${rank - 1}].`,
    );
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalizes an axis or list of axes (all axes when undefined), sorted and without repeats. */
export function normalizeAxes(
  op: string,
  axes: number | readonly number[] | undefined,
  rank: number,
): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const normalized = list.map((axis) => normalizeAxis(op, axis, rank));
  if (new Set(normalized).size !== normalized.length) {
    throw new Error(`${op}: axes [${list.join(', ')}] name the same dimension twice.`);
  }
  return normalized.sort((x, y) => x - y);
}

/** Returns the shape after reducing `axes`, keeping them as size 1 when keepdim is set. */
export function reducedShape(shape: Shape, axes: readonly number[], keepdim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdim) out.push(1);
  });
  return out;
}

export function checkShape(op: string, shape: Shape): number[] {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new Error(
        `${op}: shape ${formatShape(shape)} is invalid; every dimension must be a non-negative integer.`,
      );
    }
  }
  return [...shape];
}
