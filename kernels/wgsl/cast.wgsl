// Dtype casts over contiguous 32-bit words.
//   OP 0: i32 -> f32.
//   OP 1: f32 -> i32, truncating toward zero. Values beyond the i32 range saturate
//         to its bounds and NaN gives 0, checked here because WGSL leaves the
//         conversion of out-of-range values to the implementation.

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
    let v = bitcast<f32>(x[i]);
    // 2147483520 is the largest f32 below 2^31, so the clamped value converts exactly.
    let truncated = i32(clamp(v, -2147483648.0, 2147483520.0));
    var result = select(truncated, 2147483647, v >= 2147483648.0);
    // NaN is tested on the bits (exponent all ones, non-zero mantissa) because
    // v != v was folded to false on Dawn with lavapipe.
    result = select(result, 0, (x[i] & 0x7fffffffu) > 0x7f800000u);
    out[i] = bitcast<u32>(result);
  }
}
