// Per-channel affine maps, the arithmetic of BatchNorm in one pass:
//   TERMS = 1: out = x * a + c
//   TERMS = 2: out = x * a + y * b + c
// x, y and out are contiguous with the output's shape; a, b and c share one
// smaller shape that broadcasts to it, read through `strides` (0 on broadcast
// dimensions). Each invocation handles 4 consecutive elements per turn of a
// grid-stride loop.

struct Params {
  n: u32,
  rank: u32,
  shape: array<vec4<u32>, 2>,
  strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> c: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

override TERMS: u32 = 2u;
// Rank of the collapsed layout, fixed per pipeline so the loop over dimensions unrolls.
override RANK: u32 = 8u;

// Offset into a, b and c of the first element of row `row`, a row being the
// innermost dimension of the collapsed layout.
fn row_offset(row: u32) -> u32 {
  var rest = row;
  var offset = 0u;
  for (var k = 1u; k < RANK; k++) {
    let d = RANK - 1u - k;
    let size = p.shape[d / 4u][d % 4u];
    offset += (rest % size) * p.strides[d / 4u][d % 4u];
    rest = rest / size;
  }
  return offset;
}

fn affine_at(i: u32, s: u32) {
  var v = x[i] * a[s] + c[s];
  if (TERMS == 2u) { v += y[i] * b[s]; }
  out[i] = v;
}

// Elements first .. first + count - 1. The coefficient offset is computed in
// full once and then stepped along the row, because integer division per
// element made this pass four times slower than a plain elementwise one.
fn affine_run(first: u32, count: u32) {
  let last = max(RANK, 1u) - 1u;
  let length = select(p.n, p.shape[last / 4u][last % 4u], RANK > 0u);
  let step = select(0u, p.strides[last / 4u][last % 4u], RANK > 0u);
  var row = first / length;
  var column = first % length;
  var s = row_offset(row) + column * step;
  for (var k = 0u; k < count; k++) {
    affine_at(first + k, s);
    column += 1u;
    s += step;
    if (column == length) {
      row += 1u;
      column = 0u;
      s = row_offset(row);
    }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let step = groups.x * groups.y * 64u;
  for (var j = (wid.x + wid.y * groups.x) * 64u + lid; 4u * j < p.n; j += step) {
    let i = 4u * j;
    affine_run(i, min(4u, p.n - i));
  }
}
