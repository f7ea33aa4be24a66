// Batched matrix product out[b] = op(A[b]) @ op(B[b]), with op = transpose when
// TRANS_A / TRANS_B is set, so transposed operands are read in place with no copy.
// Batch dimensions broadcast through per-operand batch strides (0 where broadcast).
// Each invocation accumulates a 4x4 block of the output in registers, with no
// workgroup memory and no barriers.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  batch_rank: u32,
  batch_shape: array<vec4<u32>, 2>,
  a_batch_strides: array<vec4<u32>, 2>,
  b_batch_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

override TRANS_A: bool = false;
override TRANS_B: bool = false;

fn at(v: array<vec4<u32>, 2>, i: u32) -> u32 {
  return v[i / 4u][i % 4u];
}

fn a_at(base: u32, m: u32, k: u32) -> f32 {
  if (TRANS_A) { return a[base + k * p.M + m]; }
  return a[base + m * p.K + k];
}

fn b_at(base: u32, k: u32, n: u32) -> f32 {
  if (TRANS_B) { return b[base + n * p.K + k]; }
  return b[base + k * p.N + n];
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row0 = (wid.y * 8u + lid.y) * 4u;
  let col0 = (wid.x * 8u + lid.x) * 4u;
  if (row0 >= p.M || col0 >= p.N) { return; }

  var a_base = 0u;
  var b_base = 0u;
  var rest = wid.z;
  for (var d = i32(p.batch_rank) - 1; d >= 0; d--) {
    let size = at(p.batch_shape, u32(d));
    let coord = rest % size;
    rest = rest / size;
    a_base += coord * at(p.a_batch_strides, u32(d));
    b_base += coord * at(p.b_batch_strides, u32(d));
  }

  // Rows and columns past the edge read a clamped (valid) index and are not stored,
  // which keeps the inner loop free of branches.
  var rows: array<u32, 4>;
  var cols: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    rows[i] = min(row0 + i, p.M - 1u);
    cols[i] = min(col0 + i, p.N - 1u);
  }

  var acc: array<vec4<f32>, 4>;
  for (var k = 0u; k < p.K; k++) {
    let bv = vec4<f32>(b_at(b_base, k, cols[0]), b_at(b_base, k, cols[1]), b_at(b_base, k, cols[2]), b_at(b_base, k, cols[3]));
    for (var i = 0u; i < 4u; i++) {
      acc[i] += a_at(a_base, rows[i], k) * bv;
    }
  }

  let out_base = wid.z * p.M * p.N;
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + i;
    if (row >= p.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (col0 + j < p.N) { out[out_base + row * p.N + col0 + j] = acc[i][j]; }
    }
  }
}
