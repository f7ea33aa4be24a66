// Softmax and log-softmax along one axis. The host views the input as
// [outer, len, inner] with the axis in the middle, so row (o, i) holds the
// elements at o * len * inner + r * inner + i for r in [0, len). Every row is
// shifted by its maximum before exp, so logits of any magnitude give finite
// results (a row that is all -inf gives NaN, as in PyTorch).
//   per_thread: one invocation per row, for many rows; neighbouring invocations
//               read neighbouring i, so an inner axis reads contiguously.
//   per_group:  one workgroup per row, for few long rows.

struct Params {
  rows: u32,
  len: u32,
  inner: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

// 0 softmax, 1 log-softmax.
override LOG: bool = false;

const GROUP: u32 = 64u;

fn row_base(row: u32) -> u32 {
  let o = row / p.inner;
  let i = row % p.inner;
  return o * p.len * p.inner + i;
}

// Writes exp(v - max) / sum, or v - max - log(sum) for log-softmax.
fn result(v: f32, row_max: f32, total: f32) -> f32 {
  if (LOG) { return v - row_max - log(total); }
  return exp(v - row_max) / total;
}

@compute @workgroup_size(64)
fn per_thread(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
              @builtin(num_workgroups) groups: vec3<u32>) {
  let row = (wid.x + wid.y * groups.x) * GROUP + lid;
  if (row >= p.rows) { return; }
  let base = row_base(row);
  let step = p.inner;

  var row_max = x[base];
  for (var r = 1u; r < p.len; r++) {
    row_max = max(row_max, x[base + r * step]);
  }
  var total = 0.0;
  for (var r = 0u; r < p.len; r++) {
    total += exp(x[base + r * step] - row_max);
  }
  for (var r = 0u; r < p.len; r++) {
    let k = base + r * step;
    out[k] = result(x[k], row_max, total);
  }
}

var<workgroup> partial: array<f32, GROUP>;

@compute @workgroup_size(64)
fn per_group(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
             @builtin(num_workgroups) groups: vec3<u32>) {
  let row = wid.x + wid.y * groups.x;
  // Workgroups past the last row compute on the last row and store nothing, so
  // every invocation reaches every barrier.
  let base = row_base(min(row, p.rows - 1u));
  let step = p.inner;

  // Each invocation starts from element 0, which every row has, so no infinity is needed.
  var local_max = x[base];
  for (var r = lid; r < p.len; r += GROUP) {
    local_max = max(local_max, x[base + r * step]);
  }
  partial[lid] = local_max;
  workgroupBarrier();
  for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { partial[lid] = max(partial[lid], partial[lid + stride]); }
    workgroupBarrier();
  }
  let row_max = partial[0];
  workgroupBarrier();

  var local_total = 0.0;
  for (var r = lid; r < p.len; r += GROUP) {
    local_total += exp(x[base + r * step] - row_max);
  }
  partial[lid] = local_total;
  workgroupBarrier();
  for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let total = partial[0];

  if (row >= p.rows) { return; }
  for (var r = lid; r < p.len; r += GROUP) {
    let k = base + r * step;
    out[k] = result(x[k], row_max, total);
  }
}
