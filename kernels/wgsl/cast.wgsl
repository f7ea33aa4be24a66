// Dtype casts over contiguous 32-bit words.
//   OP 0: i32 -> f32.
//   OP 1: f32 -> i32, truncating toward zero. WGSL clamps out-of-range values to
//         the i32 range; NaN gives an implementation-defined value.

struct Params {
  n: u32,
}

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

override OP: u32 = 0u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let i = (wid.x + wid.y * groups.x) * 64u + lid;
  if (i >= p.n) { return; }
  if (OP == 0u) {
    out[i] = bitcast<u32>(f32(bitcast<i32>(x[i])));
  } else {
    out[i] = bitcast<u32>(i32(bitcast<f32>(x[i])));
  }
}
