// Strided copies, the kernels behind permute, expand, slice and concat.
//   gather_copy:  out[i] = x[offset + sum_d coord_d(i) * strides_d], over the output's shape.
//   scatter_copy: out[offset + sum_d coord_d(i) * strides_d] = x[i], over the input's shape.
// Strides of 0 broadcast (expand); permuted strides transpose. Each invocation
// handles 4 consecutive elements per turn of a grid-stride loop.

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

// Rank of the collapsed view, fixed per pipeline so the loop over dimensions unrolls.
override RANK: u32 = 8u;

fn strided_offset(i: u32) -> u32 {
  var rest = i;
  var offset = p.offset;
  for (var k = 0u; k < RANK; k++) {
    let d = RANK - 1u - k;
    let size = p.shape[d / 4u][d % 4u];
    offset += (rest % size) * p.strides[d / 4u][d % 4u];
    rest = rest / size;
  }
  return offset;
}

fn gather_at(i: u32) {
  out[i] = x[strided_offset(i)];
}

fn scatter_at(i: u32) {
  out[strided_offset(i)] = x[i];
}

@compute @workgroup_size(64)
fn gather_copy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
               @builtin(num_workgroups) groups: vec3<u32>) {
  let step = groups.x * groups.y * 64u;
  for (var j = (wid.x + wid.y * groups.x) * 64u + lid; 4u * j < p.n; j += step) {
    let i = 4u * j;
    if (i + 3u < p.n) {
      gather_at(i);
      gather_at(i + 1u);
      gather_at(i + 2u);
      gather_at(i + 3u);
    } else {
      for (var k = i; k < p.n; k++) { gather_at(k); }
    }
  }
}

@compute @workgroup_size(64)
fn scatter_copy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) groups: vec3<u32>) {
  let step = groups.x * groups.y * 64u;
  for (var j = (wid.x + wid.y * groups.x) * 64u + lid; 4u * j < p.n; j += step) {
    let i = 4u * j;
    if (i + 3u < p.n) {
      scatter_at(i);
      scatter_at(i + 1u);
      scatter_at(i + 2u);
      scatter_at(i + 3u);
    } else {
      for (var k = i; k < p.n; k++) { scatter_at(k); }
    }
  }
}
