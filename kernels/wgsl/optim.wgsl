// In-place optimizer updates: one dispatch per parameter tensor updates the
// parameter and its state buffers elementwise. The arithmetic follows PyTorch's
// single-tensor SGD and Adam step by step, so f32 trajectories agree closely.

struct Params {
  n: u32,
  lr: f32,
  weight_decay: f32,
  // SGD
  momentum: f32,
  dampening: f32,
  nesterov: u32,
  // 1 on the first momentum step, which starts the buffer at the gradient.
  first: u32,
  // Adam
  beta1: f32,
  beta2: f32,
  eps: f32,
  // 1 for AdamW: decay the weights directly instead of adding wd * p to the gradient.
  decoupled: u32,
  // lr / (1 - beta1^t) and sqrt(1 - beta2^t)
  step_size: f32,
  bias_correction2_sqrt: f32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> state1: array<f32>;
@group(0) @binding(3) var<storage, read_write> state2: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

fn index(wid: vec3<u32>, lid: u32, groups: vec3<u32>) -> u32 {
  return (wid.x + wid.y * groups.x) * 64u + lid;
}

// state1 is the momentum buffer; it is bound only when momentum != 0.
@compute @workgroup_size(64)
fn sgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
       @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(wid, lid, groups);
  if (i >= p.n) { return; }
  let w = param[i];
  var d = grad[i] + p.weight_decay * w;
  if (p.momentum != 0.0) {
    var buf = d;
    if (p.first == 0u) { buf = p.momentum * state1[i] + (1.0 - p.dampening) * d; }
    state1[i] = buf;
    d = select(buf, d + p.momentum * buf, p.nesterov == 1u);
  }
  param[i] = w - p.lr * d;
}

// state1 = exp_avg (m), state2 = exp_avg_sq (v).
@compute @workgroup_size(64)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(wid, lid, groups);
  if (i >= p.n) { return; }
  var w = param[i];
  var g = grad[i];
  if (p.decoupled == 1u) {
    w = w * (1.0 - p.lr * p.weight_decay);
  } else {
    g = g + p.weight_decay * w;
  }
  let m = p.beta1 * state1[i] + (1.0 - p.beta1) * g;
  let v = p.beta2 * state2[i] + (1.0 - p.beta2) * g * g;
  state1[i] = m;
  state2[i] = v;
  let denom = sqrt(v) / p.bias_correction2_sqrt + p.eps;
  param[i] = w - p.step_size * (m / denom);
}
