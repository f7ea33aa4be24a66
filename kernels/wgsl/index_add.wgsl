// indexAdd along one axis, with x viewed as [outer, size, inner], source as
// [outer, count, inner] and a 1-D index of length count:
//   out[o, j, e] = x[o, j, e] + sum_{k : index[k] == j} source[o, k, e]
//
// WGSL has no float atomics, so each invocation owns one chunk of CHUNK elements
// of one output row (o, j) and loops over the whole index, adding the matching
// source rows in increasing k. Sums are deterministic and nothing races. The cost
// is one index comparison per k per chunk plus CHUNK adds per match. An index
// outside [0, size) matches no row, so it adds nothing.
// NOTE: the comparisons grow as outer * size * count, so a backward through
// indexSelect on a large table with a long index is slow (about 4 s on lavapipe
// with 2 cores for a 50000 x 64 table and 4096 indices). A bucketed index would
// fix that.

struct Params {
  n_chunks: u32,
  size: u32,
  inner: u32,
  count: u32,
  chunks_per_row: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> index: array<i32>;
@group(0) @binding(2) var<storage, read> source: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const CHUNK: u32 = 16u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let t = (wid.x + wid.y * groups.x) * 64u + lid;
  if (t >= p.n_chunks) { return; }

  let chunk = t % p.chunks_per_row;
  let row = t / p.chunks_per_row;
  let j = row % p.size;
  let o = row / p.size;
  let first = chunk * CHUNK;
  let width = min(CHUNK, p.inner - first);
  let out_base = row * p.inner + first;
  let source_base = o * p.count * p.inner + first;

  var acc: array<f32, CHUNK>;
  for (var e = 0u; e < width; e++) { acc[e] = x[out_base + e]; }
  for (var k = 0u; k < p.count; k++) {
    if (index[k] != i32(j)) { continue; }
    let row_start = source_base + k * p.inner;
    for (var e = 0u; e < width; e++) { acc[e] += source[row_start + e]; }
  }
  for (var e = 0u; e < width; e++) { out[out_base + e] = acc[e]; }
}
