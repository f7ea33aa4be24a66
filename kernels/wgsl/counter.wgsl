// Adds a constant to every element of an i32 buffer in place (BatchNorm's
// num_batches_tracked), so the count stays on the GPU with no upload.

struct Params {
  n: u32,
  delta: i32,
}

@group(0) @binding(0) var<storage, read_write> counter: array<i32>;
@group(0) @binding(1) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < p.n) { counter[id.x] = counter[id.x] + p.delta; }
}
