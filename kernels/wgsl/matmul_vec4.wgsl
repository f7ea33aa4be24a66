// Batched matrix product out[b] = A[b] @ B[b] for untransposed operands whose
// K and N are multiples of 4, read and written as vec4 (four consecutive
// elements of a row). Batch dimensions broadcast as in matmul.wgsl.
//
// Layout, chosen by measurement on Mesa lavapipe (which runs a workgroup's
// invocations as SIMD lanes): a workgroup covers ROWS rows and LANES * COLS
// vec4 columns. Its rows depend only on the workgroup id, so the loads of A
// are the same for every lane and need no gather. Each lane keeps COLS vec4
// columns, strided by LANES so neighbouring lanes read neighbouring vec4s of B.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  batch_rank: u32,
  batch_shape: array<vec4<u32>, 2>,
  a_batch_strides: array<vec4<u32>, 2>,
  b_batch_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Params;

const ROWS = 8u;
const COLS = 2u;
const LANES = 8u;

fn at(v: array<vec4<u32>, 2>, i: u32) -> u32 {
  return v[i / 4u][i % 4u];
}

@compute @workgroup_size(LANES)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row0 = wid.y * ROWS;
  let col0 = wid.x * (LANES * COLS) + lid.x;
  let n4 = p.N / 4u;
  let k4 = p.K / 4u;

  // Batch offsets in vec4 units; every batch stride is a multiple of K or N.
  var a_base = 0u;
  var b_base = 0u;
  var rest = wid.z;
  for (var d = i32(p.batch_rank) - 1; d >= 0; d--) {
    let size = at(p.batch_shape, u32(d));
    let coord = rest % size;
    rest = rest / size;
    a_base += coord * at(p.a_batch_strides, u32(d)) / 4u;
    b_base += coord * at(p.b_batch_strides, u32(d)) / 4u;
  }

  // Rows and columns past the edge read a clamped (valid) index and are not
  // stored, which keeps the inner loop free of branches.
  var a_rows: array<u32, ROWS>;
  for (var i = 0u; i < ROWS; i++) {
    a_rows[i] = a_base + min(row0 + i, p.M - 1u) * k4;
  }
  var b_cols: array<u32, COLS>;
  for (var j = 0u; j < COLS; j++) {
    b_cols[j] = b_base + min(col0 + j * LANES, n4 - 1u);
  }

  // acc[i][j] += sum over q of A[row i][4k + q] * B[4k + q][vec4 column j].
  var acc: array<array<vec4<f32>, COLS>, ROWS>;
  for (var k = 0u; k < k4; k++) {
    let k_row = 4u * k * n4;
    var bv: array<array<vec4<f32>, COLS>, 4>;
    for (var q = 0u; q < 4u; q++) {
      for (var j = 0u; j < COLS; j++) {
        bv[q][j] = b[b_cols[j] + k_row + q * n4];
      }
    }
    for (var i = 0u; i < ROWS; i++) {
      let av = a[a_rows[i] + k];
      for (var j = 0u; j < COLS; j++) {
        acc[i][j] += av.x * bv[0][j] + av.y * bv[1][j] + av.z * bv[2][j] + av.w * bv[3][j];
      }
    }
  }

  let out_base = wid.z * p.M * n4;
  for (var i = 0u; i < ROWS; i++) {
    let row = row0 + i;
    if (row >= p.M) { break; }
    for (var j = 0u; j < COLS; j++) {
      let col = col0 + j * LANES;
      if (col < n4) { out[out_base + row * n4 + col] = acc[i][j]; }
    }
  }
}
