// out[k, c] = 1.0 where labels[k] == c, else 0.0, for c in [0, classes).
// Every output element is written exactly once from its own index, so a label
// outside [0, classes) only leaves its row all zero: no write goes out of bounds.

struct Params {
  n: u32,
  classes: u32,
}

@group(0) @binding(0) var<storage, read> labels: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let k = (wid.x + wid.y * groups.x) * 64u + lid;
  if (k >= p.n) { return; }
  let label = labels[k / p.classes];
  out[k] = select(0.0, 1.0, label == i32(k % p.classes));
}
