// Fast path of conv.wgsl for convolutions with column stride 1, column dilation 1
// and at most 5 kernel columns, on repacked operands:
//   xp [N, C_in, H, WP]: x with pad_w zero columns on the left and zeros up to WP on the
//      right, so 12 consecutive columns starting at any multiple of 8 below OW exist;
//   wp [groups, C_in / groups, KH, KW, CP]: the weight with output channels innermost,
//      zero-padded to CP, a multiple of 8, per group.
// Each invocation computes 8 output channels x 8 output columns. Per input channel and
// kernel row it loads three vec4 of x and 2 KW vec4 of weights; the KW shifted windows of
// the 12 columns are static swizzles once the kw loop is unrolled. On lavapipe (Mesa 25.0,
// 2-core x86) a probe measured one storage read per invocation at about the cost of four
// vec4 FMAs, so fewer, wider reads pay off.
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
  /** Batch images per chunk of the weight gradient. */
  batch_chunk: u32,
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
  let col_blocks = (p.OW + 7u) / 8u;
  let vec4s = p.CP / 4u;
  let channel_blocks = p.CP / 8u;
  let ow0 = (i % col_blocks) * 8u;
  var rest = i / col_blocks;
  let oh = rest % p.OH;
  rest = rest / p.OH;
  let cb = rest % (channel_blocks * p.groups);
  let n = rest / (channel_blocks * p.groups);
  let g = cb / channel_blocks;
  let c8 = cb % channel_blocks;

  let row_vec4s = p.WP / 4u;
  let ih0 = i32(oh * SH) - p.pad_h;
  var a: array<vec4<f32>, 8>;
  var b: array<vec4<f32>, 8>;
  for (var ci = 0u; ci < p.cin_g; ci++) {
    let plane = (n * p.C_in + g * p.cin_g + ci) * p.H;
    let w_base = (g * p.cin_g + ci) * KH * KW * vec4s + 2u * c8;
    for (var kh = 0u; kh < KH; kh++) {
      let ih = ih0 + i32(kh * DH);
      let row_ok = ih >= 0 && ih < i32(p.H);
      let at = (plane + u32(clamp(ih, 0, i32(p.H) - 1))) * row_vec4s + ow0 / 4u;
      let x0 = select(vec4<f32>(0.0), xp[at], row_ok);
      let x1 = select(vec4<f32>(0.0), xp[at + 1u], row_ok);
      let x2 = select(vec4<f32>(0.0), xp[at + 2u], row_ok);
      for (var kw = 0u; kw < KW; kw++) {
        let v = shifted(x0, x1, kw);
        let u = shifted(x1, x2, kw);
        let t = w_base + (kh * KW + kw) * vec4s;
        let w0 = wp[t];
        let w1 = wp[t + 1u];
        for (var k = 0u; k < 4u; k++) {
          a[k] += v[k] * w0;
          b[k] += v[k] * w1;
          a[k + 4u] += u[k] * w0;
          b[k + 4u] += u[k] * w1;
        }
      }
    }
  }

  // a[k] and b[k] hold output column ow0 + k for channels 8 * c8 .. + 3 and + 4 .. + 7.
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

