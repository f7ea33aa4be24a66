// Scatter-add along one axis, the kernel behind scatterAdd and indexAdd:
//   out[c] = x[c] + sum_k [index[j(c, k)] == c_axis] * src[s(c, k)]
// where j(c, k) and s(c, k) are the index and src positions with coordinates c off
// the axis and k on it, for k in [0, count). indexAdd passes index strides of 0 off
// the axis.
//
// WGSL has no float atomics, so instead of one invocation per source element adding
// into the output, each invocation owns one output element and loops over the k
// that may land on it. Every sum runs in increasing k, so results are deterministic
// and there are no write races, at the cost of out_size * count reads.
// An index outside [0, out_shape[axis]) matches no output element, so it adds nothing;
// an output coordinate outside index_bounds (scatterAdd's index may be smaller than
// the output off the axis) receives nothing.

struct Params {
  n: u32,
  rank: u32,
  axis: u32,
  count: u32,
  index_axis_stride: u32,
  src_axis_stride: u32,
  out_shape: array<vec4<u32>, 2>,
  /** index's strides, 0 on the axis. */
  index_strides: array<vec4<u32>, 2>,
  /** src's strides, 0 on the axis. */
  src_strides: array<vec4<u32>, 2>,
  /** Sizes of the index off the axis; output coordinates at or past them get no contribution. */
  index_bounds: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> index: array<i32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

fn at(v: array<vec4<u32>, 2>, i: u32) -> u32 {
  return v[i / 4u][i % 4u];
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let i = (wid.x + wid.y * groups.x) * 64u + lid;
  if (i >= p.n) { return; }

  var rest = i;
  var index_offset = 0u;
  var src_offset = 0u;
  var destination = 0;
  var inside = true;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let size = at(p.out_shape, u32(d));
    let c = rest % size;
    rest = rest / size;
    if (u32(d) == p.axis) {
      destination = i32(c);
    } else {
      inside = inside && c < at(p.index_bounds, u32(d));
      index_offset += c * at(p.index_strides, u32(d));
      src_offset += c * at(p.src_strides, u32(d));
    }
  }

  var acc = x[i];
  let count = select(0u, p.count, inside);
  for (var k = 0u; k < count; k++) {
    let hit = index[index_offset + k * p.index_axis_stride] == destination;
    acc += select(0.0, src[src_offset + k * p.src_axis_stride], hit);
  }
  out[i] = acc;
}
