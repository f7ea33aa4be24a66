// Batched matrix product out[b] = op(A[b]) @ op(B[b]) for devices with the
// `subgroups` feature, with op = transpose when TRANS_A / TRANS_B is set, so
// transposed operands are read in place with no copy. Operands are read as vec4:
// N and K must be multiples of 4, and M too when A is transposed. Batch dimensions broadcast as in matmul.wgsl.
//
// Layout, chosen by measurement on Mesa lavapipe (which runs the 8 invocations of
// a workgroup as the SIMD lanes of one subgroup and reads storage memory one lane
// and one component at a time): a workgroup computes ROWS rows by 8 vec4 columns
// of the output, one vec4 column per lane, in 32 vec4 accumulators per lane.
// Every lane needs the same values of op(A), so each lane reads an eighth of them
// and subgroupBroadcast hands them to the others; this cuts the storage reads per
// multiply-add to less than half of reading op(A) in every lane, and uses no
// workgroup memory and no barriers.
// NOTE: the kernel assumes the 8 invocations of a workgroup form one subgroup with
// subgroup_invocation_id 0..7. The launcher requires subgroups of at least 8
// invocations, which lavapipe and current GPU drivers lay out that way, but
// WebGPU does not promise the layout.

enable subgroups;

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

override TRANS_A: bool = false;
override TRANS_B: bool = false;

const ROWS = 32u;
const LANES = 8u;

fn at(v: array<vec4<u32>, 2>, i: u32) -> u32 {
  return v[i / 4u][i % 4u];
}

// acc[r] += av.x * bv[0] + av.y * bv[1] + av.z * bv[2] + av.w * bv[3]: one output
// row's vec4 over four consecutive k, with av that row of op(A) at those k.
// The helpers below take constant row numbers from their callers, so that once
// inlined every accumulator index is constant and the accumulators stay in registers.
fn mac(acc: ptr<function, array<vec4<f32>, ROWS>>, r: u32, av: vec4<f32>, bv: array<vec4<f32>, 4>) {
  (*acc)[r] += av.x * bv[0] + av.y * bv[1] + av.z * bv[2] + av.w * bv[3];
}

// Rows r .. r + 7 for untransposed A, where lane s holds row r + s at four consecutive k.
fn rows_of_lanes(acc: ptr<function, array<vec4<f32>, ROWS>>, r: u32, m: vec4<f32>, bv: array<vec4<f32>, 4>) {
  mac(acc, r, subgroupBroadcast(m, 0u), bv);
  mac(acc, r + 1u, subgroupBroadcast(m, 1u), bv);
  mac(acc, r + 2u, subgroupBroadcast(m, 2u), bv);
  mac(acc, r + 3u, subgroupBroadcast(m, 3u), bv);
  mac(acc, r + 4u, subgroupBroadcast(m, 4u), bv);
  mac(acc, r + 5u, subgroupBroadcast(m, 5u), bv);
  mac(acc, r + 6u, subgroupBroadcast(m, 6u), bv);
  mac(acc, r + 7u, subgroupBroadcast(m, 7u), bv);
}

// Rows r .. r + 3 for transposed A, where m[t] holds those rows at k = 4 kk + t
// (as one lane read them); row r + c is component c of each m[t].
fn rows_of_lane(acc: ptr<function, array<vec4<f32>, ROWS>>, r: u32, m: array<vec4<f32>, 4>, bv: array<vec4<f32>, 4>) {
  mac(acc, r, vec4<f32>(m[0].x, m[1].x, m[2].x, m[3].x), bv);
  mac(acc, r + 1u, vec4<f32>(m[0].y, m[1].y, m[2].y, m[3].y), bv);
  mac(acc, r + 2u, vec4<f32>(m[0].z, m[1].z, m[2].z, m[3].z), bv);
  mac(acc, r + 3u, vec4<f32>(m[0].w, m[1].w, m[2].w, m[3].w), bv);
}

@compute @workgroup_size(LANES)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(subgroup_invocation_id) sid: u32) {
  let m4 = p.M / 4u;
  let n4 = p.N / 4u;
  let k4 = p.K / 4u;
  let row0 = wid.y * ROWS;
  let col = wid.x * LANES + lid.x;

  // Batch offsets in vec4 units; every batch stride is a multiple of 4.
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

  // What this lane reads of op(A) at k = 4 kk + q, as vec4 indices. Untransposed
  // (A is [M, K]): rows row0 + sid + 8 t, four consecutive k each. Transposed
  // (A is [K, M]): rows row0 + 4 sid .. + 3 at each of the four k. Rows and
  // columns past the edge read a clamped (valid) index and are not stored, which
  // keeps the inner loop free of branches.
  var a_idx: array<u32, 4>;
  for (var t = 0u; t < 4u; t++) {
    if (TRANS_A) {
      a_idx[t] = a_base + t * m4 + min(row0 / 4u + sid, m4 - 1u);
    } else {
      a_idx[t] = a_base + min(row0 + sid + LANES * t, p.M - 1u) * k4;
    }
  }
  let b_col = min(col, n4 - 1u);

  var acc: array<vec4<f32>, ROWS>;
  for (var kk = 0u; kk < k4; kk++) {
    // bv[q] is row 4 kk + q of op(B) at this lane's 4 columns.
    var bv: array<vec4<f32>, 4>;
    if (TRANS_B) {
      // B is [N, K]: read 4 k of each of the 4 columns and transpose in registers.
      let base = b_base + 4u * b_col * k4 + kk;
      let c0 = b[base];
      let c1 = b[base + k4];
      let c2 = b[base + 2u * k4];
      let c3 = b[base + 3u * k4];
      bv[0] = vec4<f32>(c0.x, c1.x, c2.x, c3.x);
      bv[1] = vec4<f32>(c0.y, c1.y, c2.y, c3.y);
      bv[2] = vec4<f32>(c0.z, c1.z, c2.z, c3.z);
      bv[3] = vec4<f32>(c0.w, c1.w, c2.w, c3.w);
    } else {
      let base = b_base + 4u * kk * n4 + b_col;
      bv[0] = b[base];
      bv[1] = b[base + n4];
      bv[2] = b[base + 2u * n4];
      bv[3] = b[base + 3u * n4];
    }

    if (TRANS_A) {
      // Lane s reads rows 4 s .. 4 s + 3 at k = 4 kk + t into mt.
      // subgroupBroadcast takes a constant lane, hence one call per lane.
      let step = 4u * kk * m4;
      let m0 = a[a_idx[0] + step];
      let m1 = a[a_idx[1] + step];
      let m2 = a[a_idx[2] + step];
      let m3 = a[a_idx[3] + step];
      rows_of_lane(&acc, 0u, array<vec4<f32>, 4>(subgroupBroadcast(m0, 0u), subgroupBroadcast(m1, 0u),
                                                    subgroupBroadcast(m2, 0u), subgroupBroadcast(m3, 0u)), bv);
      rows_of_lane(&acc, 4u, array<vec4<f32>, 4>(subgroupBroadcast(m0, 1u), subgroupBroadcast(m1, 1u),
                                                    subgroupBroadcast(m2, 1u), subgroupBroadcast(m3, 1u)), bv);
      rows_of_lane(&acc, 8u, array<vec4<f32>, 4>(subgroupBroadcast(m0, 2u), subgroupBroadcast(m1, 2u),
                                                    subgroupBroadcast(m2, 2u), subgroupBroadcast(m3, 2u)), bv);
      rows_of_lane(&acc, 12u, array<vec4<f32>, 4>(subgroupBroadcast(m0, 3u), subgroupBroadcast(m1, 3u),
                                                    subgroupBroadcast(m2, 3u), subgroupBroadcast(m3, 3u)), bv);
      rows_of_lane(&acc, 16u, array<vec4<f32>, 4>(subgroupBroadcast(m0, 4u), subgroupBroadcast(m1, 4u),
                                                    subgroupBroadcast(m2, 4u), subgroupBroadcast(m3, 4u)), bv);
      rows_of_lane(&acc, 20u, array<vec4<f32>, 4>(subgroupBroadcast(m0, 5u), subgroupBroadcast(m1, 5u),
                                                    subgroupBroadcast(m2, 5u), subgroupBroadcast(m3, 5u)), bv);
      rows_of_lane(&acc, 24u, array<vec4<f32>, 4>(subgroupBroadcast(m0, 6u), subgroupBroadcast(m1, 6u),
                                                    subgroupBroadcast(m2, 6u), subgroupBroadcast(m3, 6u)), bv);
      rows_of_lane(&acc, 28u, array<vec4<f32>, 4>(subgroupBroadcast(m0, 7u), subgroupBroadcast(m1, 7u),
                                                    subgroupBroadcast(m2, 7u), subgroupBroadcast(m3, 7u)), bv);
    } else {
      // Lane s reads row 8 t + s at four consecutive k from a_idx[t].
      rows_of_lanes(&acc, 0u, a[a_idx[0] + kk], bv);
      rows_of_lanes(&acc, 8u, a[a_idx[1] + kk], bv);
      rows_of_lanes(&acc, 16u, a[a_idx[2] + kk], bv);
      rows_of_lanes(&acc, 24u, a[a_idx[3] + kk], bv);
    }
  }

  if (col >= n4) { return; }
  let out_base = wid.z * p.M * n4 + col;
  for (var i = 0u; i < ROWS; i++) {
    let row = row0 + i;
    if (row >= p.M) { break; }
    out[out_base + row * n4] = acc[i];
  }
}
