// Fast path of conv.wgsl for convolutions with column stride 1, column dilation 1
// and at most 5 kernel columns, on repacked operands:
//   xp [N, C_in, H, WP]: x with pad_w zero columns on the left and zeros up to WP on the
//      right, so 8 consecutive columns starting at any multiple of 4 below OW exist;
//   wp [groups, C_in / groups, KH, KW, CP]: the weight with output channels innermost,
//      zero-padded to CP, a multiple of 4, per group.
// Each invocation computes 4 output channels x 4 output columns. Per input channel and
// kernel row it loads two vec4 of x and KW vec4 of weights; the KW shifted windows of
// the 8 columns are static swizzles once the kw loop is unrolled.
//   pad_columns:  xp from x
//   pack_weights: wp from w [C_out, C_in / groups, KH, KW]; with FLIP set it instead packs
//                 the weight of the equivalent forward convolution of conv's transpose at
//                 stride 1: wp[g, co, kh, kw, ci] = w[g * cout_g + co, ci, KH - 1 - kh, KW - 1 - kw]
//   conv_rows:    y = conv(x, w) from xp and wp

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
  total: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> xp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> wp: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: Params;

override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override DH: u32 = 1u;
override FLIP: bool = false;

fn invocation(wid: vec3<u32>, lid: u32, num: vec3<u32>) -> u32 {
  return (wid.x + wid.y * num.x) * 64u + lid;
}

@compute @workgroup_size(64)
fn pad_columns(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
               @builtin(num_workgroups) num: vec3<u32>) {
  let i = invocation(wid, lid, num);
  if (i >= p.total) { return; }
  let col = i32(i % p.WP) - p.pad_w;
  let row = i / p.WP;
  let inside = col >= 0 && col < i32(p.W);
  out[i] = select(0.0, x[row * p.W + u32(clamp(col, 0, i32(p.W) - 1))], inside);
}

@compute @workgroup_size(64)
fn pack_weights(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) num: vec3<u32>) {
  let i = invocation(wid, lid, num);
  if (i >= p.total) { return; }
  // i indexes wp [groups, cin_g, KH, KW, CP] in the geometry of the convolution being run.
  let co = i % p.CP;
  var rest = i / p.CP;
  let tap = rest % (KH * KW);
  rest = rest / (KH * KW);
  let ci = rest % p.cin_g;
  let g = rest / p.cin_g;
  var value = 0.0;
  if (co < p.cout_g) {
    if (FLIP) {
      // The stored weight is [C_in of this convolution, C_out / groups, KH, KW].
      let flipped = KH * KW - 1u - tap;
      value = x[((g * p.cin_g + ci) * p.cout_g + co) * KH * KW + flipped];
    } else {
      value = x[((g * p.cout_g + co) * p.cin_g + ci) * KH * KW + tap];
    }
  }
  out[i] = value;
}

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

@compute @workgroup_size(64)
fn conv_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
             @builtin(num_workgroups) num: vec3<u32>) {
  let i = invocation(wid, lid, num);
  if (i >= p.total) { return; }
  let col_blocks = (p.OW + 3u) / 4u;
  let channel_blocks = p.CP / 4u;
  let ow0 = (i % col_blocks) * 4u;
  var rest = i / col_blocks;
  let oh = rest % p.OH;
  rest = rest / p.OH;
  let cb = rest % (channel_blocks * p.groups);
  let n = rest / (channel_blocks * p.groups);
  let g = cb / channel_blocks;
  let c4 = cb % channel_blocks;

  let row_vec4s = p.WP / 4u;
  let ih0 = i32(oh * SH) - p.pad_h;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var ci = 0u; ci < p.cin_g; ci++) {
    let plane = (n * p.C_in + g * p.cin_g + ci) * p.H;
    let w_base = (g * p.cin_g + ci) * KH * KW * channel_blocks + c4;
    for (var kh = 0u; kh < KH; kh++) {
      let ih = ih0 + i32(kh * DH);
      let row_ok = ih >= 0 && ih < i32(p.H);
      let at = (plane + u32(clamp(ih, 0, i32(p.H) - 1))) * row_vec4s + ow0 / 4u;
      let lo = select(vec4<f32>(0.0), xp[at], row_ok);
      let hi = select(vec4<f32>(0.0), xp[at + 1u], row_ok);
      for (var kw = 0u; kw < KW; kw++) {
        let v = shifted(lo, hi, kw);
        let w = wp[w_base + (kh * KW + kw) * channel_blocks];
        acc0 += v.x * w;
        acc1 += v.y * w;
        acc2 += v.z * w;
        acc3 += v.w * w;
      }
    }
  }

  // acc_j holds output column ow0 + j for the 4 channels 4 * c4 .. 4 * c4 + 3.
  let plane_size = p.OH * p.OW;
  for (var j = 0u; j < 4u; j++) {
    let co = c4 * 4u + j;
    if (co >= p.cout_g) { break; }
    let base = (n * p.C_out + g * p.cout_g + co) * plane_size + oh * p.OW + ow0;
    let values = vec4<f32>(acc0[j], acc1[j], acc2[j], acc3[j]);
    for (var px = 0u; px < 4u; px++) {
      if (ow0 + px < p.OW) { out[base + px] = values[px]; }
    }
  }
}
