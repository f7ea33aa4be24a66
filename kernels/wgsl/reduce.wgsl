// Reductions over any set of axes. The host splits the input's dimensions into
// kept ("outer") and reduced ("inner") ones; output element o reads input
// offset(o) + inner_offset(r) for r in [0, inner_size).
//   per_thread: one invocation per output element, for many outputs or short rows.
//   per_group:  one workgroup per output element, for few outputs and long rows.
// Two sums read a second input y: OP 5 sums x * y (y laid out as x), and OP 6
// sums (x - y[o])^2 (y holds one value per output element, such as a mean).

struct Params {
  out_size: u32,
  inner_size: u32,
  outer_rank: u32,
  inner_rank: u32,
  outer_shape: array<vec4<u32>, 2>,
  outer_strides: array<vec4<u32>, 2>,
  inner_shape: array<vec4<u32>, 2>,
  inner_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_index: array<i32>;
@group(0) @binding(4) var<uniform> p: Params;

// 0 sum, 1 max, 2 min, 3 argmax, 4 argmin, 5 sum of products, 6 sum of squared
// deviations. Arg ops return the first index of the
// extreme value, as torch.argmax does; NaN counts as the extreme, as in PyTorch.
override OP: u32 = 0u;
// Contiguous inner block: the reduced axes are the trailing ones.
override INNER_CONTIGUOUS: bool = false;

const GROUP: u32 = 64u;

// Ranks of the collapsed kept and reduced dimensions, fixed per pipeline so the
// loops over dimensions unroll.
override OUTER_RANK: u32 = 8u;
override INNER_RANK: u32 = 8u;

fn outer_offset(o: u32) -> u32 {
  var rest = o;
  var offset = 0u;
  for (var k = 0u; k < OUTER_RANK; k++) {
    let d = OUTER_RANK - 1u - k;
    let size = p.outer_shape[d / 4u][d % 4u];
    offset += (rest % size) * p.outer_strides[d / 4u][d % 4u];
    rest = rest / size;
  }
  return offset;
}

// Returns the offset of the first element of reduced row `row`, a row being the
// innermost reduced dimension.
fn inner_row_offset(row: u32) -> u32 {
  var rest = row;
  var offset = 0u;
  for (var k = 1u; k < INNER_RANK; k++) {
    let d = INNER_RANK - 1u - k;
    let size = p.inner_shape[d / 4u][d % 4u];
    offset += (rest % size) * p.inner_strides[d / 4u][d % 4u];
    rest = rest / size;
  }
  return offset;
}

// Tests the bits (exponent all ones, non-zero mantissa) because v != v was
// folded to false on Dawn with lavapipe.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// Whether candidate v replaces the current extreme best (first index wins ties).
fn better(v: f32, best: f32) -> bool {
  if (is_nan(best)) { return false; }
  if (is_nan(v)) { return true; }
  if (OP == 1u || OP == 3u) { return v > best; }
  return v < best;
}

// A running result. `valid` is false until the first element, so max and min
// need no infinite starting value.
struct Partial { value: f32, index: u32, valid: bool }

fn is_sum() -> bool {
  return OP == 0u || OP >= 5u;
}

// The term that element `at` of the reduction for output o contributes.
fn term(at: u32, o: u32) -> f32 {
  if (OP == 5u) { return x[at] * y[at]; }
  if (OP == 6u) {
    let d = x[at] - y[o];
    return d * d;
  }
  return x[at];
}

fn combine(acc: Partial, v: f32, index: u32) -> Partial {
  if (is_sum()) { return Partial(acc.value + v, 0u, true); }
  if (!acc.valid || better(v, acc.value)) { return Partial(v, index, true); }
  return acc;
}

fn merge(mine: Partial, other: Partial) -> Partial {
  if (is_sum()) { return Partial(mine.value + other.value, 0u, true); }
  if (!other.valid) { return mine; }
  if (!mine.valid || better(other.value, mine.value)) { return other; }
  let tied = other.value == mine.value || (is_nan(other.value) && is_nan(mine.value));
  if (tied && other.index < mine.index) { return other; }
  return mine;
}

// Sums run in blocks of BLOCK elements whose totals are then added up, so the
// rounding error grows with n / BLOCK + BLOCK rather than with n (a long row of
// 1e6 values of 0.1 summed one by one in f32 is off by about 1.5e-4 relative).
const BLOCK: u32 = 256u;
fn store(o: u32, acc: Partial) {
  if (OP == 3u || OP == 4u) {
    out_index[o] = i32(acc.index);
  } else {
    out[o] = acc.value;
  }
}

// Reduces elements first, first + step, ... of the row at `base`, for output o.
fn reduce_strided(base: u32, o: u32, first: u32, step: u32) -> Partial {
  var acc = Partial(0.0, 0u, false);
  var block_sum = 0.0;
  var block_count = 0u;
  // Element r of the reduction is column r % row_length of row r / row_length.
  // The loop steps the column and recomputes the row offset only when it
  // passes the row's end, so most elements cost no division.
  var row_length = p.inner_size;
  var column_stride = 1u;
  if (!INNER_CONTIGUOUS && INNER_RANK > 0u) {
    let last = max(INNER_RANK, 1u) - 1u;
    row_length = p.inner_shape[last / 4u][last % 4u];
    column_stride = p.inner_strides[last / 4u][last % 4u];
  }
  var row = first / row_length;
  var column = first % row_length;
  var row_base = base + inner_row_offset(row);
  for (var r = first; r < p.inner_size; r += step) {
    let v = term(row_base + column * column_stride, o);
    column += step;
    if (column >= row_length) {
      row += column / row_length;
      column = column % row_length;
      row_base = base + inner_row_offset(row);
    }
    if (is_sum()) {
      block_sum += v;
      block_count += 1u;
      if (block_count == BLOCK) {
        acc.value += block_sum;
        block_sum = 0.0;
        block_count = 0u;
      }
    } else {
      acc = combine(acc, v, r);
    }
  }
  acc.value += block_sum;
  return acc;
}

@compute @workgroup_size(64)
fn per_thread(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
              @builtin(num_workgroups) groups: vec3<u32>) {
  let o = (wid.x + wid.y * groups.x) * GROUP + lid;
  if (o >= p.out_size) { return; }
  let base = outer_offset(o);
  store(o, reduce_strided(base, o, 0u, 1u));
}

var<workgroup> values: array<f32, GROUP>;
var<workgroup> indices: array<u32, GROUP>;
var<workgroup> valid: array<bool, GROUP>;

@compute @workgroup_size(64)
fn per_group(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
             @builtin(num_workgroups) groups: vec3<u32>) {
  let o = wid.x + wid.y * groups.x;
  let kept = min(o, p.out_size - 1u);
  let acc = reduce_strided(outer_offset(kept), kept, lid, GROUP);
  values[lid] = acc.value;
  indices[lid] = acc.index;
  valid[lid] = acc.valid;
  workgroupBarrier();

  for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      let other = Partial(values[lid + stride], indices[lid + stride], valid[lid + stride]);
      let merged = merge(Partial(values[lid], indices[lid], valid[lid]), other);
      values[lid] = merged.value;
      indices[lid] = merged.index;
      valid[lid] = merged.valid;
    }
    workgroupBarrier();
  }
  if (lid == 0u && o < p.out_size) { store(o, Partial(values[0], indices[0], valid[0])); }
}
