// 2-D pooling over planes [planes, H, W] -> [planes, OH, OW], where window (oh, ow)
// covers rows oh * SH - PH .. + KH - 1 and columns ow * SW - PW .. + KW - 1.
//   max_argmax:   index (h * W + w) of each window's first maximum; padding never wins
//   pool_gather:  out[plane, o] = x[plane, index[plane, o]]
//   pool_scatter: out[plane, h * W + w] = sum of g[plane, o] over windows o with index o = h * W + w
//   avg_forward:  window means; the divisor counts padding when count_include_pad is 1
//   avg_backward: the adjoint of avg_forward
// `out` is raw 32-bit words so that one binding serves f32 values and i32 indices.

struct Params {
  H: u32,
  W: u32,
  OH: u32,
  OW: u32,
  KH: u32,
  KW: u32,
  SH: u32,
  SW: u32,
  PH: u32,
  PW: u32,
  count_include_pad: u32,
  /** Output elements of this dispatch. */
  total: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> index: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

fn invocation(wid: vec3<u32>, lid: u32, num: vec3<u32>) -> u32 {
  return (wid.x + wid.y * num.x) * 64u + lid;
}

@compute @workgroup_size(64)
fn max_argmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
              @builtin(num_workgroups) num: vec3<u32>) {
  let i = invocation(wid, lid, num);
  if (i >= p.total) { return; }
  let ow = i % p.OW;
  let oh = (i / p.OW) % p.OH;
  let plane = i / (p.OW * p.OH) * p.H * p.W;
  let h0 = i32(oh * p.SH) - i32(p.PH);
  let w0 = i32(ow * p.SW) - i32(p.PW);

  var best = 0.0;
  var best_index = -1;
  for (var kh = 0; kh < i32(p.KH); kh++) {
    let h = h0 + kh;
    for (var kw = 0; kw < i32(p.KW); kw++) {
      let w = w0 + kw;
      let inside = h >= 0 && h < i32(p.H) && w >= 0 && w < i32(p.W);
      let at = clamp(h, 0, i32(p.H) - 1) * i32(p.W) + clamp(w, 0, i32(p.W) - 1);
      let v = x[plane + u32(at)];
      // Strictly greater keeps the first maximum; a NaN wins, as in PyTorch.
      let wins = inside && (v > best || v != v || best_index < 0);
      best = select(best, v, wins);
      best_index = select(best_index, at, wins);
    }
  }
  out[i] = bitcast<u32>(best_index);
}

@compute @workgroup_size(64)
fn pool_gather(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
               @builtin(num_workgroups) num: vec3<u32>) {
  let i = invocation(wid, lid, num);
  if (i >= p.total) { return; }
  let plane = i / (p.OW * p.OH) * p.H * p.W;
  out[i] = bitcast<u32>(x[plane + u32(index[i])]);
}

// Windows containing input row h: oh from ceil((h + PH - KH + 1) / SH) to floor((h + PH) / SH).
fn first_window(h: u32, pad: u32, k: u32, s: u32) -> u32 {
  let a = i32(h + pad) - i32(k) + 1;
  return select(0u, u32(a + i32(s) - 1) / s, a > 0);
}

fn last_window(h: u32, pad: u32, s: u32, count: u32) -> u32 {
  return min((h + pad) / s + 1u, count);
}

fn scatter_at(i: u32) {
  let w = i % p.W;
  let h = (i / p.W) % p.H;
  let plane = i / (p.W * p.H) * p.OH * p.OW;
  let position = i32(h * p.W + w);
  var total = 0.0;
  for (var oh = first_window(h, p.PH, p.KH, p.SH); oh < last_window(h, p.PH, p.SH, p.OH); oh++) {
    for (var ow = first_window(w, p.PW, p.KW, p.SW); ow < last_window(w, p.PW, p.SW, p.OW); ow++) {
      let o = plane + oh * p.OW + ow;
      total += select(0.0, x[o], index[o] == position);
    }
  }
  out[i] = bitcast<u32>(total);
}

// Windows that tile the input without overlap or padding (kernel = stride, as
// in 2x2 max pooling with stride 2) hold each input in at most one window, so
// one read replaces the loops. Input elements first .. first + count - 1: the
// coordinates are divided out once and then stepped along the row, because
// divisions per element made this the slowest pass of a conv net's backward.
fn scatter_tiled_run(first: u32, count: u32) {
  var w = first % p.W;
  var h = (first / p.W) % p.H;
  var plane = first / (p.W * p.H) * p.OH * p.OW;
  var ow = w / p.SW;
  var within = w % p.SW;
  var oh = h / p.SH;
  for (var k = 0u; k < count; k++) {
    var value = 0.0;
    if (oh < p.OH && ow < p.OW) {
      let o = plane + oh * p.OW + ow;
      value = select(0.0, x[o], index[o] == i32(h * p.W + w));
    }
    out[first + k] = bitcast<u32>(value);

    w += 1u;
    within += 1u;
    if (within == p.SW) {
      within = 0u;
      ow += 1u;
    }
    if (w == p.W) {
      w = 0u;
      ow = 0u;
      within = 0u;
      h += 1u;
      if (h == p.H) {
        h = 0u;
        plane += p.OH * p.OW;
      }
      oh = h / p.SH;
    }
  }
}

// Each invocation handles 4 consecutive input elements per turn of a grid-stride
// loop, which on lavapipe costs far less per element than one element per invocation.
@compute @workgroup_size(64)
fn pool_scatter(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) num: vec3<u32>) {
  let step = num.x * num.y * 64u;
  let tiled = p.KH == p.SH && p.KW == p.SW && p.PH == 0u && p.PW == 0u;
  for (var j = invocation(wid, lid, num); 4u * j < p.total; j += step) {
    let i = 4u * j;
    if (tiled) {
      scatter_tiled_run(i, min(4u, p.total - i));
    } else if (i + 3u < p.total) {
      scatter_at(i);
      scatter_at(i + 1u);
      scatter_at(i + 2u);
      scatter_at(i + 3u);
    } else {
      for (var k = i; k < p.total; k++) { scatter_at(k); }
    }
  }
}

// 1 / (number of elements averaged by window (oh, ow)).
fn window_scale(oh: u32, ow: u32) -> f32 {
  let h0 = i32(oh * p.SH) - i32(p.PH);
  let w0 = i32(ow * p.SW) - i32(p.PW);
  let h1 = min(h0 + i32(p.KH), i32(p.H + p.PH));
  let w1 = min(w0 + i32(p.KW), i32(p.W + p.PW));
  let padded = (h1 - h0) * (w1 - w0);
  let inside = (min(h1, i32(p.H)) - max(h0, 0)) * (min(w1, i32(p.W)) - max(w0, 0));
  return 1.0 / f32(select(inside, padded, p.count_include_pad == 1u));
}

@compute @workgroup_size(64)
fn avg_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
               @builtin(num_workgroups) num: vec3<u32>) {
  let i = invocation(wid, lid, num);
  if (i >= p.total) { return; }
  let ow = i % p.OW;
  let oh = (i / p.OW) % p.OH;
  let plane = i / (p.OW * p.OH) * p.H * p.W;
  let h0 = i32(oh * p.SH) - i32(p.PH);
  let w0 = i32(ow * p.SW) - i32(p.PW);

  var total = 0.0;
  for (var h = max(h0, 0); h < min(h0 + i32(p.KH), i32(p.H)); h++) {
    for (var w = max(w0, 0); w < min(w0 + i32(p.KW), i32(p.W)); w++) {
      total += x[plane + u32(h) * p.W + u32(w)];
    }
  }
  out[i] = bitcast<u32>(total * window_scale(oh, ow));
}

@compute @workgroup_size(64)
fn avg_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) num: vec3<u32>) {
  let i = invocation(wid, lid, num);
  if (i >= p.total) { return; }
  let w = i % p.W;
  let h = (i / p.W) % p.H;
  let plane = i / (p.W * p.H) * p.OH * p.OW;

  var total = 0.0;
  for (var oh = first_window(h, p.PH, p.KH, p.SH); oh < last_window(h, p.PH, p.SH, p.OH); oh++) {
    for (var ow = first_window(w, p.PW, p.KW, p.SW); ow < last_window(w, p.PW, p.SW, p.OW); ow++) {
      total += x[plane + oh * p.OW + ow] * window_scale(oh, ow);
    }
  }
  out[i] = bitcast<u32>(total);
}
