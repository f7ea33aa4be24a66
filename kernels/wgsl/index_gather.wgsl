// Gather along one axis, the kernel behind gather and indexSelect:
//   out[c] = x[sum_{d != axis} c_d * x_strides_d + index[sum_d c_d * index_strides_d] * x_axis_stride]
// over the output's coordinates c. indexSelect passes index strides of 0 off the axis.
// An index outside [0, axis_size) writes 0 and reads nothing, so a bad index on the
// GPU can never read out of bounds. Data moves as raw 32-bit words (f32 or i32).

struct Params {
  n: u32,
  rank: u32,
  axis_size: u32,
  x_axis_stride: u32,
  out_shape: array<vec4<u32>, 2>,
  /** x's strides with 0 on the gathered axis. */
  x_strides: array<vec4<u32>, 2>,
  index_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read> index: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

fn at(v: array<vec4<u32>, 2>, i: u32) -> u32 {
  return v[i / 4u][i % 4u];
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let i = (wid.x + wid.y * groups.x) * 64u + lid;
  if (i >= p.n) { return; }

  var rest = i;
  var x_offset = 0u;
  var index_offset = 0u;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let size = at(p.out_shape, u32(d));
    let c = rest % size;
    x_offset += c * at(p.x_strides, u32(d));
    index_offset += c * at(p.index_strides, u32(d));
    rest = rest / size;
  }

  let k = index[index_offset];
  let inside = k >= 0 && u32(k) < p.axis_size;
  let safe = select(0u, u32(k), inside);
  out[i] = select(0u, x[x_offset + safe * p.x_axis_stride], inside);
}
