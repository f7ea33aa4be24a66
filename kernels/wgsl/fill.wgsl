// Creation kernels: constants, ranges, identity matrices and counter-based random
// numbers. The output is raw 32-bit words so one kernel serves f32 and i32
// tensors; IS_INT selects how a value is encoded.

struct Params {
  n: u32,
  cols: u32,
  value: f32,
  step: f32,
  seed: u32,
  offset: u32,
  low: f32,
  high: f32,
}

@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<uniform> p: Params;

override IS_INT: bool = false;

fn encode(v: f32) -> u32 {
  if (IS_INT) {
    return bitcast<u32>(i32(round(v)));
  }
  return bitcast<u32>(v);
}

fn index(wid: vec3<u32>, lid: u32, groups: vec3<u32>) -> u32 {
  return (wid.x + wid.y * groups.x) * 64u + lid;
}

@compute @workgroup_size(64)
fn full(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(wid, lid, groups);
  if (i < p.n) { out[i] = encode(p.value); }
}

// out[i] = value + i * step
@compute @workgroup_size(64)
fn arange(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
          @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(wid, lid, groups);
  if (i < p.n) { out[i] = encode(p.value + f32(i) * p.step); }
}

@compute @workgroup_size(64)
fn eye(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
       @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(wid, lid, groups);
  if (i < p.n) {
    let on_diagonal = i / p.cols == i % p.cols;
    out[i] = encode(select(0.0, 1.0, on_diagonal));
  }
}

// PCG-style hash of (seed, counter): a stateless generator, so draw i of a call
// depends only on the seed and the counter and not on dispatch order.
fn hash(x: u32) -> u32 {
  var h = x * 747796405u + 2891336453u;
  h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
  return (h >> 22u) ^ h;
}

fn uniform01(counter: u32) -> f32 {
  let h = hash(hash(counter) ^ p.seed);
  // 24 random bits, mapped to (0, 1) so that log(u) below is finite.
  return (f32(h >> 8u) + 0.5) / 16777216.0;
}

@compute @workgroup_size(64)
fn rand(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(wid, lid, groups);
  if (i < p.n) { out[i] = encode(p.low + (p.high - p.low) * uniform01(p.offset + i)); }
}

// Box-Muller: two uniform draws per normal draw.
@compute @workgroup_size(64)
fn randn(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
         @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(wid, lid, groups);
  if (i < p.n) {
    let u1 = uniform01(p.offset + 2u * i);
    let u2 = uniform01(p.offset + 2u * i + 1u);
    let z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    out[i] = encode(p.low + p.high * z);
  }
}
