// Pairwise measures between the rows of x [batch, N, D] and y [batch, M, D],
// written to out [batch, N, M]:
//   COSINE = false: out[n, m] = sum_k (x[n, k] - y[m, k])^2
//   COSINE = true:  out[n, m] = <x_n, y_m> / max(|x_n| |y_m|, eps)
// The squared distance sums the differences directly rather than expanding
// |x|^2 + |y|^2 - 2 <x, y>, which cancels badly for nearby points.
// Each invocation accumulates an 8x4 block of the output in registers, with no
// workgroup memory and no barriers.

struct Params {
  N: u32,
  M: u32,
  D: u32,
  eps: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

override COSINE: bool = false;

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row0 = (wid.y * 8u + lid.y) * 8u;
  let col0 = (wid.x * 8u + lid.x) * 4u;
  if (row0 >= p.N || col0 >= p.M) { return; }

  // Rows and columns past the edge read a clamped (valid) row and are not
  // stored, which keeps the inner loop free of branches.
  let x_base = wid.z * p.N * p.D;
  let y_base = wid.z * p.M * p.D;
  var x_rows: array<u32, 8>;
  var y_rows: array<u32, 4>;
  for (var i = 0u; i < 8u; i++) {
    x_rows[i] = x_base + min(row0 + i, p.N - 1u) * p.D;
  }
  for (var i = 0u; i < 4u; i++) {
    y_rows[i] = y_base + min(col0 + i, p.M - 1u) * p.D;
  }

  // acc[i][j] is the output at (row0 + i, col0 + j). x_low contains rows 0-3 and x_high rows 4-7.
  var acc: array<vec4<f32>, 8>;
  var x_sq_low = vec4<f32>(0.0);
  var x_sq_high = vec4<f32>(0.0);
  var y_sq = vec4<f32>(0.0);
  for (var k = 0u; k < p.D; k++) {
    let x_low = vec4<f32>(x[x_rows[0] + k], x[x_rows[1] + k], x[x_rows[2] + k], x[x_rows[3] + k]);
    let x_high = vec4<f32>(x[x_rows[4] + k], x[x_rows[5] + k], x[x_rows[6] + k], x[x_rows[7] + k]);
    let yv = vec4<f32>(y[y_rows[0] + k], y[y_rows[1] + k], y[y_rows[2] + k], y[y_rows[3] + k]);
    if (COSINE) {
      x_sq_low += x_low * x_low;
      x_sq_high += x_high * x_high;
      y_sq += yv * yv;
      acc[0] += x_low.x * yv;
      acc[1] += x_low.y * yv;
      acc[2] += x_low.z * yv;
      acc[3] += x_low.w * yv;
      acc[4] += x_high.x * yv;
      acc[5] += x_high.y * yv;
      acc[6] += x_high.z * yv;
      acc[7] += x_high.w * yv;
    } else {
      let d0 = x_low.x - yv;
      let d1 = x_low.y - yv;
      let d2 = x_low.z - yv;
      let d3 = x_low.w - yv;
      let d4 = x_high.x - yv;
      let d5 = x_high.y - yv;
      let d6 = x_high.z - yv;
      let d7 = x_high.w - yv;
      acc[0] += d0 * d0;
      acc[1] += d1 * d1;
      acc[2] += d2 * d2;
      acc[3] += d3 * d3;
      acc[4] += d4 * d4;
      acc[5] += d5 * d5;
      acc[6] += d6 * d6;
      acc[7] += d7 * d7;
    }
  }

  if (COSINE) {
    let y_norm = sqrt(y_sq);
    for (var i = 0u; i < 4u; i++) {
      acc[i] = acc[i] / max(sqrt(x_sq_low[i]) * y_norm, vec4<f32>(p.eps));
      acc[i + 4u] = acc[i + 4u] / max(sqrt(x_sq_high[i]) * y_norm, vec4<f32>(p.eps));
    }
  }

  let out_base = wid.z * p.N * p.M;
  for (var i = 0u; i < 8u; i++) {
    let row = row0 + i;
    if (row >= p.N) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (col0 + j < p.M) { out[out_base + row * p.M + col0 + j] = acc[i][j]; }
    }
  }
}
