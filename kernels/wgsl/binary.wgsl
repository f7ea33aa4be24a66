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
    default: { return x; }
  }
}

struct Offsets { a: u32, b: u32, c: u32 }

fn offsets(i: u32) -> Offsets {
  var rest = i;
  var o = Offsets(0u, 0u, 0u);
  for (var k = 0u; k < RANK; k++) {
    let d = RANK - 1u - k;
    let size = p.shape[d / 4u][d % 4u];
    let coord = rest % size;
    rest = rest / size;
    o.a += coord * p.a_strides[d / 4u][d % 4u];
    o.b += coord * p.b_strides[d / 4u][d % 4u];
    o.c += coord * p.c_strides[d / 4u][d % 4u];
  }
  return o;
}

fn binary_at(i: u32) {
  if (BROADCAST) {
    let o = offsets(i);
    // An operand laid out as the output reads element i directly.
    out[i] = apply(a[select(o.a, i, A_DIRECT)], b[select(o.b, i, B_DIRECT)]);
  } else {
    out[i] = apply(a[i], b[i]);
  }
}

// out = a where c != 0, else b: torch.where(condition = c, a, b).
fn where_at(i: u32) {
  let o = offsets(i);
  out[i] = select(b[o.b], a[o.a], c[o.c] != 0.0);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let step = groups.x * groups.y * 64u;
  for (var j = (wid.x + wid.y * groups.x) * 64u + lid; 4u * j < p.n; j += step) {
    let i = 4u * j;
    if (i + 3u < p.n) {
      binary_at(i);
      binary_at(i + 1u);
      binary_at(i + 2u);
      binary_at(i + 3u);
    } else {
      for (var k = i; k < p.n; k++) { binary_at(k); }
    }
  }
}

@compute @workgroup_size(64)
fn where_select(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) groups: vec3<u32>) {
  let step = groups.x * groups.y * 64u;
  for (var j = (wid.x + wid.y * groups.x) * 64u + lid; 4u * j < p.n; j += step) {
    let i = 4u * j;
    if (i + 3u < p.n) {
      where_at(i);
      where_at(i + 1u);
      where_at(i + 2u);
      where_at(i + 3u);
    } else {
      for (var k = i; k < p.n; k++) { where_at(k); }
    }
  }
}
