// Elementwise f(a, b) with NumPy broadcasting, and the select `where`. Each input
// is read through its own strides, 0 on broadcast dimensions. BROADCAST = false is
// the fast path for two contiguous inputs of the output's shape. Each invocation
// handles 4 consecutive elements per turn of a grid-stride loop.

struct Params {
  n: u32,
  rank: u32,
  shape: array<vec4<u32>, 2>,
  a_strides: array<vec4<u32>, 2>,
  b_strides: array<vec4<u32>, 2>,
  c_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> c: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

override OP: u32 = 0u;
override BROADCAST: bool = true;
// Rank of the collapsed broadcast layout, fixed per pipeline so the loop over dimensions unrolls.
override RANK: u32 = 8u;
// Whether a or b is contiguous with the output's shape, so that it needs no offsets.
override A_DIRECT: bool = false;
override B_DIRECT: bool = false;

fn at(v: array<vec4<u32>, 2>, i: u32) -> u32 {
  return v[i / 4u][i % 4u];
}

// NaN test on the bits: compilers may fold `v != v` to false.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// x^y with WGSL's pow (undefined for x < 0) extended to integer exponents of a
// negative base, and 0^0 = 1, as torch.pow computes them.
fn power(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (x < 0.0 && y == round(y)) {
    let magnitude = pow(-x, y);
    let odd = abs(y) < 16777216.0 && (i32(abs(y)) & 1) == 1;
    return select(magnitude, -magnitude, odd);
  }
  return pow(x, y);
}

fn apply(x: f32, y: f32) -> f32 {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return x / y; }
    case 4u: { return power(x, y); }
    // maximum and minimum propagate NaN, as torch.maximum does.
    case 5u: { return select(max(x, y), x + y, is_nan(x) || is_nan(y)); }
    case 6u: { return select(min(x, y), x + y, is_nan(x) || is_nan(y)); }
    case 7u: { return select(0.0, 1.0, x == y); }
    case 8u: { return select(0.0, 1.0, x > y); }
    case 9u: { return select(0.0, 1.0, x < y); }
    case 10u: { return select(0.0, 1.0, x >= y); }
    case 11u: { return select(0.0, 1.0, x <= y); }
    // relu's backward: the gradient x where the input y is positive. A select,
    // not a product with a mask, so a NaN gradient at y <= 0 gives 0 as in PyTorch.
    case 12u: { return select(0.0, x, y > 0.0); }
    default: { return x; }
  }
}

struct Offsets { a: u32, b: u32, c: u32 }

// Offsets of the first element of row `row`, a row being the innermost
// dimension of the collapsed layout.
fn row_offsets(row: u32) -> Offsets {
  var rest = row;
  var o = Offsets(0u, 0u, 0u);
  for (var k = 1u; k < RANK; k++) {
    let d = RANK - 1u - k;
    let size = at(p.shape, d);
    let coord = rest % size;
    rest = rest / size;
    o.a += coord * at(p.a_strides, d);
    o.b += coord * at(p.b_strides, d);
    o.c += coord * at(p.c_strides, d);
  }
  return o;
}

// A run of consecutive elements first .. first + count - 1 of a broadcast
// layout. Offsets are divided out once and then stepped along the row, because
// integer division per element made broadcast passes several times slower
// than contiguous ones on lavapipe.
struct Run { row: u32, column: u32, length: u32, at: Offsets, step: Offsets }

fn start_run(first: u32) -> Run {
  let last = max(RANK, 1u) - 1u;
  let inner = RANK > 0u;
  let length = select(p.n, at(p.shape, last), inner);
  let step = Offsets(
    select(0u, at(p.a_strides, last), inner),
    select(0u, at(p.b_strides, last), inner),
    select(0u, at(p.c_strides, last), inner),
  );
  let row = first / length;
  let column = first % length;
  var o = row_offsets(row);
  o.a += column * step.a;
  o.b += column * step.b;
  o.c += column * step.c;
  return Run(row, column, length, o, step);
}

fn advance(run: ptr<function, Run>) {
  (*run).column += 1u;
  (*run).at.a += (*run).step.a;
  (*run).at.b += (*run).step.b;
  (*run).at.c += (*run).step.c;
  if ((*run).column == (*run).length) {
    (*run).row += 1u;
    (*run).column = 0u;
    (*run).at = row_offsets((*run).row);
  }
}

fn binary_run(first: u32, count: u32) {
  if (!BROADCAST) {
    if (count == 4u) {
      out[first] = apply(a[first], b[first]);
      out[first + 1u] = apply(a[first + 1u], b[first + 1u]);
      out[first + 2u] = apply(a[first + 2u], b[first + 2u]);
      out[first + 3u] = apply(a[first + 3u], b[first + 3u]);
      return;
    }
    for (var i = first; i < first + count; i++) { out[i] = apply(a[i], b[i]); }
    return;
  }
  var run = start_run(first);
  for (var i = first; i < first + count; i++) {
    // An operand laid out as the output reads element i directly.
    out[i] = apply(a[select(run.at.a, i, A_DIRECT)], b[select(run.at.b, i, B_DIRECT)]);
    advance(&run);
  }
}

// out = a where c != 0, else b: torch.where(condition = c, a, b).
fn where_run(first: u32, count: u32) {
  var run = start_run(first);
  for (var i = first; i < first + count; i++) {
    out[i] = select(b[run.at.b], a[run.at.a], c[run.at.c] != 0.0);
    advance(&run);
  }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let step = groups.x * groups.y * 64u;
  for (var j = (wid.x + wid.y * groups.x) * 64u + lid; 4u * j < p.n; j += step) {
    let i = 4u * j;
    binary_run(i, min(4u, p.n - i));
  }
}

@compute @workgroup_size(64)
fn where_select(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) groups: vec3<u32>) {
  let step = groups.x * groups.y * 64u;
  for (var j = (wid.x + wid.y * groups.x) * 64u + lid; 4u * j < p.n; j += step) {
    let i = 4u * j;
    where_run(i, min(4u, p.n - i));
  }
}
