// Strided copies, the kernels behind permute, expand, slice and concat.
//   gather_copy:  out[i] = x[offset + sum_d coord_d(i) * strides_d], over the output's shape.
//   scatter_copy: out[offset + sum_d coord_d(i) * strides_d] = x[i], over the input's shape.
// Strides of 0 broadcast (expand); permuted strides transpose.

struct Params {
  n: u32,
  rank: u32,
  offset: u32,
  shape: array<vec4<u32>, 2>,
  strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

fn at(v: array<vec4<u32>, 2>, i: u32) -> u32 {
  return v[i / 4u][i % 4u];
}

fn strided_offset(i: u32) -> u32 {
  var rest = i;
  var offset = p.offset;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let size = at(p.shape, u32(d));
    offset += (rest % size) * at(p.strides, u32(d));
    rest = rest / size;
  }
  return offset;
}

@compute @workgroup_size(64)
fn gather_copy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
               @builtin(num_workgroups) groups: vec3<u32>) {
  let i = (wid.x + wid.y * groups.x) * 64u + lid;
  if (i < p.n) { out[i] = x[strided_offset(i)]; }
}

@compute @workgroup_size(64)
fn scatter_copy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) groups: vec3<u32>) {
  let i = (wid.x + wid.y * groups.x) * 64u + lid;
  if (i < p.n) { out[strided_offset(i)] = x[i]; }
}
