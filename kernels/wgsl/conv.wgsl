// Direct 2-D convolution and its two adjoints, all in the geometry of one
// convolution: x [N, C_in, H, W] (*) w [C_out, C_in / groups, KH, KW] = y [N, C_out, OH, OW],
// with oh * SH - pad_h + kh * DH the input row that kernel row kh reads (likewise for columns).
//   conv_forward:     y = conv(x, w)                       (a = x, b = w, out = y)
//   conv_transpose:   x = convᵀ(y, w), the adjoint in x    (a = y, b = w, out = x)
//   conv_weight_grad: w = corr(x, y), the adjoint in w     (a = x, b = y, out = partial w per batch chunk)
// Each invocation accumulates a register block of 4 channels x PB pixels (8 channels x 4
// taps in the weight gradient) with no workgroup memory and no barriers. Reads outside the image use a clamped index
// and are zeroed with select, so the inner loops have no branches. Forward and
// transposed convolutions at column stride 1 take the faster path in conv_packed.wgsl.

struct Params {
  N: u32,
  C_in: u32,
  H: u32,
  W: u32,
  C_out: u32,
  OH: u32,
  OW: u32,
  cin_g: u32,
  cout_g: u32,
  pad_h: i32,
  pad_w: i32,
  /** Blocks of 4 channels per group: of C_out / groups (forward, weight grad) or C_in / groups (transpose). */
  channel_blocks: u32,
  groups: u32,
  /** Blocks of PB pixels along the output row (forward, transpose) or of 4 taps (weight grad). */
  inner_blocks: u32,
  /** Batch images per chunk of the weight gradient. */
  batch_chunk: u32,
  total: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;
override DH: u32 = 1u;
override DW: u32 = 1u;

const CB = 4u;
const PB = 4u;

fn invocation(wid: vec3<u32>, lid: u32, groups: vec3<u32>) -> u32 {
  return (wid.x + wid.y * groups.x) * 64u + lid;
}

// Reads a[row_base + col] for 0 <= row < rows and 0 <= col < cols, else 0.
fn read_a(row_base: u32, row_ok: bool, col: i32, cols: u32) -> f32 {
  let ok = row_ok && col >= 0 && col < i32(cols);
  return select(0.0, a[row_base + u32(clamp(col, 0, i32(cols) - 1))], ok);
}

@compute @workgroup_size(64)
fn conv_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) num: vec3<u32>) {
  let i = invocation(wid, lid, num);
  if (i >= p.total) { return; }
  let ow0 = (i % p.inner_blocks) * PB;
  var rest = i / p.inner_blocks;
  let oh = rest % p.OH;
  rest = rest / p.OH;
  let cblock = rest % (p.channel_blocks * p.groups);
  let n = rest / (p.channel_blocks * p.groups);
  let g = cblock / p.channel_blocks;
  let c0 = (cblock % p.channel_blocks) * CB;

  // Weight rows of the cblock's output channels, clamped to the group.
  let taps = p.cin_g * KH * KW;
  var w_row: array<u32, CB>;
  for (var j = 0u; j < CB; j++) {
    w_row[j] = (g * p.cout_g + min(c0 + j, p.cout_g - 1u)) * taps;
  }
  var iw0: array<i32, PB>;
  for (var px = 0u; px < PB; px++) {
    iw0[px] = i32((ow0 + px) * SW) - p.pad_w;
  }
  let ih0 = i32(oh * SH) - p.pad_h;

  var acc: array<vec4<f32>, PB>;
  for (var ci = 0u; ci < p.cin_g; ci++) {
    let x_plane = (n * p.C_in + g * p.cin_g + ci) * p.H * p.W;
    for (var kh = 0u; kh < KH; kh++) {
      let ih = ih0 + i32(kh * DH);
      let row_ok = ih >= 0 && ih < i32(p.H);
      let row = x_plane + u32(clamp(ih, 0, i32(p.H) - 1)) * p.W;
      let w_tap = (ci * KH + kh) * KW;
      for (var kw = 0u; kw < KW; kw++) {
        let t = w_tap + kw;
        let wv = vec4<f32>(b[w_row[0] + t], b[w_row[1] + t], b[w_row[2] + t], b[w_row[3] + t]);
        for (var px = 0u; px < PB; px++) {
          acc[px] += read_a(row, row_ok, iw0[px] + i32(kw * DW), p.W) * wv;
        }
      }
    }
  }

  for (var j = 0u; j < CB; j++) {
    if (c0 + j >= p.cout_g) { break; }
    let base = ((n * p.C_out + g * p.cout_g + c0 + j) * p.OH + oh) * p.OW;
    for (var px = 0u; px < PB; px++) {
      if (ow0 + px < p.OW) { out[base + ow0 + px] = acc[px][j]; }
    }
  }
}

// x[n, ci, ih, iw] = sum over co in ci's group, kh, kw of y[n, co, oh, ow] w[co, ci, kh, kw]
// where oh * SH = ih + pad_h - kh * DH and ow * SW = iw + pad_w - kw * DW.
@compute @workgroup_size(64)
fn conv_transpose(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                  @builtin(num_workgroups) num: vec3<u32>) {
  let i = invocation(wid, lid, num);
  if (i >= p.total) { return; }
  let iw0 = (i % p.inner_blocks) * PB;
  var rest = i / p.inner_blocks;
  let ih = rest % p.H;
  rest = rest / p.H;
  let cblock = rest % (p.channel_blocks * p.groups);
  let n = rest / (p.channel_blocks * p.groups);
  let g = cblock / p.channel_blocks;
  let c0 = (cblock % p.channel_blocks) * CB;

  let taps = KH * KW;
  var w_col: array<u32, CB>;
  for (var j = 0u; j < CB; j++) {
    w_col[j] = min(c0 + j, p.cin_g - 1u) * taps;
  }

  var acc: array<vec4<f32>, PB>;
  for (var co = g * p.cout_g; co < (g + 1u) * p.cout_g; co++) {
    let y_plane = (n * p.C_out + co) * p.OH * p.OW;
    let w_base = co * p.cin_g * taps;
    for (var kh = 0u; kh < KH; kh++) {
      let th = i32(ih) + p.pad_h - i32(kh * DH);
      let oh = th / i32(SH);
      let row_ok = th >= 0 && oh * i32(SH) == th && oh < i32(p.OH);
      let row = y_plane + u32(clamp(oh, 0, i32(p.OH) - 1)) * p.OW;
      for (var kw = 0u; kw < KW; kw++) {
        let t = w_base + kh * KW + kw;
        let wv = vec4<f32>(b[t + w_col[0]], b[t + w_col[1]], b[t + w_col[2]], b[t + w_col[3]]);
        for (var px = 0u; px < PB; px++) {
          let tw = i32(iw0 + px) + p.pad_w - i32(kw * DW);
          let ow = tw / i32(SW);
          let ok = row_ok && tw >= 0 && ow * i32(SW) == tw;
          acc[px] += read_a(row, ok, ow, p.OW) * wv;
        }
      }
    }
  }

  for (var j = 0u; j < CB; j++) {
    if (c0 + j >= p.cin_g) { break; }
    let base = ((n * p.C_in + g * p.cin_g + c0 + j) * p.H + ih) * p.W;
    for (var px = 0u; px < PB; px++) {
      if (iw0 + px < p.W) { out[base + iw0 + px] = acc[px][j]; }
    }
  }
}

// partial[s, co, tap] = sum over n in chunk s, oh, ow of y[n, co, oh, ow] x[n, ci, ih, iw],
// where tap = (ci * KH + kh) * KW + kw indexes the weight [C_out, C_in / groups, KH, KW].
@compute @workgroup_size(64)
fn conv_weight_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                    @builtin(num_workgroups) num: vec3<u32>) {
  let i = invocation(wid, lid, num);
  if (i >= p.total) { return; }
  let taps = p.cin_g * KH * KW;
  let t0 = (i % p.inner_blocks) * 4u;
  var rest = i / p.inner_blocks;
  let cblock = rest % (p.channel_blocks * p.groups);
  let s = rest / (p.channel_blocks * p.groups);
  let g = cblock / p.channel_blocks;
  let c0 = (cblock % p.channel_blocks) * 8u;

  var x_off: array<u32, 4>;
  var dh: array<i32, 4>;
  var dw: array<i32, 4>;
  for (var j = 0u; j < 4u; j++) {
    let tap = min(t0 + j, taps - 1u);
    let ci = tap / (KH * KW);
    dh[j] = i32((tap / KW) % KH * DH) - p.pad_h;
    dw[j] = i32(tap % KW * DW) - p.pad_w;
    x_off[j] = (g * p.cin_g + ci) * p.H * p.W;
  }
  var y_off: array<u32, 8>;
  for (var j = 0u; j < 8u; j++) {
    y_off[j] = (g * p.cout_g + min(c0 + j, p.cout_g - 1u)) * p.OH * p.OW;
  }

  var acc: array<vec4<f32>, 4>;
  var acc_hi: array<vec4<f32>, 4>;
  let n_end = min(p.N, (s + 1u) * p.batch_chunk);
  for (var n = s * p.batch_chunk; n < n_end; n++) {
    let x_image = n * p.C_in * p.H * p.W;
    let y_image = n * p.C_out * p.OH * p.OW;
    for (var oh = 0u; oh < p.OH; oh++) {
      var x_row: array<u32, 4>;
      var row_ok: array<bool, 4>;
      for (var j = 0u; j < 4u; j++) {
        let ih = i32(oh * SH) + dh[j];
        row_ok[j] = ih >= 0 && ih < i32(p.H);
        x_row[j] = x_image + x_off[j] + u32(clamp(ih, 0, i32(p.H) - 1)) * p.W;
      }
      let y_row = y_image + oh * p.OW;
      for (var ow = 0u; ow < p.OW; ow++) {
        let yo = y_row + ow;
        let yv = vec4<f32>(b[yo + y_off[0]], b[yo + y_off[1]], b[yo + y_off[2]], b[yo + y_off[3]]);
        let yv_hi = vec4<f32>(b[yo + y_off[4]], b[yo + y_off[5]], b[yo + y_off[6]], b[yo + y_off[7]]);
        let iw = i32(ow * SW);
        for (var j = 0u; j < 4u; j++) {
          let v = read_a(x_row[j], row_ok[j], iw + dw[j], p.W);
          acc[j] += v * yv;
          acc_hi[j] += v * yv_hi;
        }
      }
    }
  }

  for (var c = 0u; c < 8u; c++) {
    if (c0 + c >= p.cout_g) { break; }
    let base = (s * p.C_out + g * p.cout_g + c0 + c) * taps;
    for (var j = 0u; j < 4u; j++) {
      let value = select(acc[j][c % 4u], acc_hi[j][c % 4u], c >= 4u);
      if (t0 + j < taps) { out[base + t0 + j] = value; }
    }
  }
}
