// Subgroup variant of conv_rows in conv_packed.wgsl for 3x3 kernels, on the same
// repacked operands (see that file for the layouts and the other entry points).
// A workgroup is one subgroup of 8 invocations that share the output channel block
// and batch image and take 8 different blocks of 8 output columns. All of them
// need the same 18 vec4 of packed weights per input channel, so each invocation
// reads at most 3 of them and subgroupBroadcast hands them to the others. On
// lavapipe, which reads storage memory one lane and one component at a time, this
// halves the reads per multiply-add of conv_rows.
// NOTE: like matmul_subgroup.wgsl, this assumes the 8 invocations of a workgroup
// form one subgroup with subgroup_invocation_id 0..7.

enable subgroups;

struct Params {
  N: u32,
  C_in: u32,
  H: u32,
  W: u32,
  C_out: u32,
  OH: u32,
  OW: u32,
  WP: u32,
  CP: u32,
  cin_g: u32,
  cout_g: u32,
  groups: u32,
  pad_h: i32,
  pad_w: i32,
  /** Workgroups that hold output; the launch may round up past it. */
  total: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> xp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> wp: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: Params;

override SH: u32 = 1u;
override DH: u32 = 1u;

const KH = 3u;
const KW = 3u;

// The 4 columns starting k columns into the 8 columns lo, hi.
fn shifted(lo: vec4<f32>, hi: vec4<f32>, k: u32) -> vec4<f32> {
  switch k {
    case 0u: { return lo; }
    case 1u: { return vec4<f32>(lo.yzw, hi.x); }
    case 2u: { return vec4<f32>(lo.zw, hi.xy); }
    case 3u: { return vec4<f32>(lo.w, hi.xyz); }
    default: { return hi; }
  }
}

// One kernel tap: columns v (k = 0..3) and u (k = 4..7) times the weights w0 of
// channels 0..3 and w1 of channels 4..7 of the block, added to a and b.
fn tap(a: ptr<function, array<vec4<f32>, 8>>, b: ptr<function, array<vec4<f32>, 8>>,
       v: vec4<f32>, u: vec4<f32>, w0: vec4<f32>, w1: vec4<f32>) {
  (*a)[0] += v.x * w0;
  (*b)[0] += v.x * w1;
  (*a)[1] += v.y * w0;
  (*b)[1] += v.y * w1;
  (*a)[2] += v.z * w0;
  (*b)[2] += v.z * w1;
  (*a)[3] += v.w * w0;
  (*b)[3] += v.w * w1;
  (*a)[4] += u.x * w0;
  (*b)[4] += u.x * w1;
  (*a)[5] += u.y * w0;
  (*b)[5] += u.y * w1;
  (*a)[6] += u.z * w0;
  (*b)[6] += u.z * w1;
  (*a)[7] += u.w * w0;
  (*b)[7] += u.w * w1;
}

@compute @workgroup_size(8)
fn conv_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) num: vec3<u32>,
             @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  // Uniform in the workgroup, so the early return keeps subgroupBroadcast in uniform control flow.
  let w = wid.x + wid.y * num.x;
  if (w >= p.total) { return; }
  let col_blocks = (p.OW + 7u) / 8u;
  let pixel_blocks = p.OH * col_blocks;
  let block_groups = (pixel_blocks + 7u) / 8u;
  let vec4s = p.CP / 4u;
  let channel_blocks = p.CP / 8u;
  let bg = w % block_groups;
  var rest = w / block_groups;
  let cb = rest % (channel_blocks * p.groups);
  let n = rest / (channel_blocks * p.groups);
  let g = cb / channel_blocks;
  let c8 = cb % channel_blocks;

  // Blocks past the last one compute a clamped (valid) block and are not stored.
  let pixel_block = bg * 8u + lid;
  let clamped = min(pixel_block, pixel_blocks - 1u);
  let ow0 = (clamped % col_blocks) * 8u;
  let oh = clamped / col_blocks;

  // The 18 weight vec4 of an input channel are j = 2 tap + half, half 0 for
  // channels 0..3 of the block and 1 for 4..7; this invocation reads j = sid,
  // sid + 8 and sid + 16 (clamped to 17).
  var w_off: array<u32, 3>;
  for (var r = 0u; r < 3u; r++) {
    let j = min(sid + 8u * r, 2u * KH * KW - 1u);
    w_off[r] = (j / 2u) * vec4s + 2u * c8 + j % 2u;
  }

  let row_vec4s = p.WP / 4u;
  let ih0 = i32(oh * SH) - p.pad_h;
  var a: array<vec4<f32>, 8>;
  var b: array<vec4<f32>, 8>;
  for (var ci = 0u; ci < p.cin_g; ci++) {
    let plane = (n * p.C_in + g * p.cin_g + ci) * p.H;
    let w_base = (g * p.cin_g + ci) * KH * KW * vec4s;
    let w_lo = wp[w_base + w_off[0]];
    let w_mid = wp[w_base + w_off[1]];
    let w_hi = wp[w_base + w_off[2]];

    {
      let ih = ih0 + i32(0u * DH);
      let row_ok = ih >= 0 && ih < i32(p.H);
      let at = (plane + u32(clamp(ih, 0, i32(p.H) - 1))) * row_vec4s + ow0 / 4u;
      let x0 = select(vec4<f32>(0.0), xp[at], row_ok);
      let x1 = select(vec4<f32>(0.0), xp[at + 1u], row_ok);
      let x2 = select(vec4<f32>(0.0), xp[at + 2u], row_ok);
      tap(&a, &b, shifted(x0, x1, 0u), shifted(x1, x2, 0u), subgroupBroadcast(w_lo, 0u), subgroupBroadcast(w_lo, 1u));
      tap(&a, &b, shifted(x0, x1, 1u), shifted(x1, x2, 1u), subgroupBroadcast(w_lo, 2u), subgroupBroadcast(w_lo, 3u));
      tap(&a, &b, shifted(x0, x1, 2u), shifted(x1, x2, 2u), subgroupBroadcast(w_lo, 4u), subgroupBroadcast(w_lo, 5u));
    }

    {
      let ih = ih0 + i32(1u * DH);
      let row_ok = ih >= 0 && ih < i32(p.H);
      let at = (plane + u32(clamp(ih, 0, i32(p.H) - 1))) * row_vec4s + ow0 / 4u;
      let x0 = select(vec4<f32>(0.0), xp[at], row_ok);
      let x1 = select(vec4<f32>(0.0), xp[at + 1u], row_ok);
      let x2 = select(vec4<f32>(0.0), xp[at + 2u], row_ok);
      tap(&a, &b, shifted(x0, x1, 0u), shifted(x1, x2, 0u), subgroupBroadcast(w_lo, 6u), subgroupBroadcast(w_lo, 7u));
      tap(&a, &b, shifted(x0, x1, 1u), shifted(x1, x2, 1u), subgroupBroadcast(w_mid, 0u), subgroupBroadcast(w_mid, 1u));
      tap(&a, &b, shifted(x0, x1, 2u), shifted(x1, x2, 2u), subgroupBroadcast(w_mid, 2u), subgroupBroadcast(w_mid, 3u));
    }

    {
      let ih = ih0 + i32(2u * DH);
      let row_ok = ih >= 0 && ih < i32(p.H);
      let at = (plane + u32(clamp(ih, 0, i32(p.H) - 1))) * row_vec4s + ow0 / 4u;
      let x0 = select(vec4<f32>(0.0), xp[at], row_ok);
      let x1 = select(vec4<f32>(0.0), xp[at + 1u], row_ok);
      let x2 = select(vec4<f32>(0.0), xp[at + 2u], row_ok);
      tap(&a, &b, shifted(x0, x1, 0u), shifted(x1, x2, 0u), subgroupBroadcast(w_mid, 4u), subgroupBroadcast(w_mid, 5u));
      tap(&a, &b, shifted(x0, x1, 1u), shifted(x1, x2, 1u), subgroupBroadcast(w_mid, 6u), subgroupBroadcast(w_mid, 7u));
      tap(&a, &b, shifted(x0, x1, 2u), shifted(x1, x2, 2u), subgroupBroadcast(w_hi, 0u), subgroupBroadcast(w_hi, 1u));
    }
  }

  // a[k] and b[k] hold output column ow0 + k for channels 8 * c8 .. + 3 and + 4 .. + 7.
  if (pixel_block >= pixel_blocks) { return; }
  let plane_size = p.OH * p.OW;
  for (var j = 0u; j < 8u; j++) {
    let co = c8 * 8u + j;
    if (co >= p.cout_g) { break; }
    let base = (n * p.C_out + g * p.cout_g + co) * plane_size + oh * p.OW + ow0;
    for (var k = 0u; k < 8u; k++) {
      let value = select(a[k][j % 4u], b[k][j % 4u], j >= 4u);
      if (ow0 + k < p.OW) { out[base + k] = value; }
    }
  }
}
