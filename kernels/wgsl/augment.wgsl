// Image augmentations for contrastive pretraining, one thread per output
// element of a batch x [N, C, H, W]. The random choices of each image (crop
// box, flip, blur width, noise level, erased box) are drawn on the host and
// passed in `params`, STRIDE floats per image:
//   0-3  crop box in source pixels: left, top, width, height
//   4    horizontal flip (1) or not (0)
//   5    Gaussian blur sigma in pixels (0: no blur)
//   6    Gaussian noise standard deviation (0: no noise)
//   7-10 erased box in output pixels: left, top, width, height (width 0: no erasing)
//   11   value written into the erased box

struct Params {
  n: u32,
  channels: u32,
  height: u32,
  width: u32,
  seed: u32,
  stride: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

fn index(wid: vec3<u32>, lid: u32, groups: vec3<u32>) -> u32 {
  return (wid.x + wid.y * groups.x) * 64u + lid;
}

fn pixel(plane: u32, yy: i32, xx: i32) -> f32 {
  let row = clamp(yy, 0, i32(p.height) - 1);
  let column = clamp(xx, 0, i32(p.width) - 1);
  return x[plane + u32(row) * p.width + u32(column)];
}

// Random resized crop and horizontal flip: output (y, x) samples the crop box
// bilinearly at the centre of its cell, as torchvision's resize with
// align_corners false; coordinates outside the image clamp to the border.
@compute @workgroup_size(64)
fn crop_flip(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
             @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(wid, lid, groups);
  let size = p.height * p.width;
  if (i >= p.n * p.channels * size) { return; }
  let image = i / (p.channels * size);
  let plane = (i / size) * size;
  let within = i % size;
  let oy = within / p.width;
  var ox = within % p.width;
  let base = image * p.stride;
  if (params[base + 4u] > 0.5) { ox = p.width - 1u - ox; }
  let sx = params[base] + (f32(ox) + 0.5) * params[base + 2u] / f32(p.width) - 0.5;
  let sy = params[base + 1u] + (f32(oy) + 0.5) * params[base + 3u] / f32(p.height) - 0.5;
  let x0 = floor(sx);
  let y0 = floor(sy);
  let ax = sx - x0;
  let ay = sy - y0;
  let xi = i32(x0);
  let yi = i32(y0);
  let top = mix(pixel(plane, yi, xi), pixel(plane, yi, xi + 1), ax);
  let bottom = mix(pixel(plane, yi + 1, xi), pixel(plane, yi + 1, xi + 1), ax);
  out[i] = mix(top, bottom, ay);
}

// Gaussian blur with a (2 * 2 + 1)^2 window of weights exp(-(dx^2 + dy^2) / (2 sigma^2)),
// normalised to sum to 1; borders clamp. sigma 0 copies the image.
@compute @workgroup_size(64)
fn blur(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(wid, lid, groups);
  let size = p.height * p.width;
  if (i >= p.n * p.channels * size) { return; }
  let image = i / (p.channels * size);
  let plane = (i / size) * size;
  let within = i % size;
  let y = i32(within / p.width);
  let xx = i32(within % p.width);
  let sigma = params[image * p.stride + 5u];
  if (sigma <= 0.0) {
    out[i] = x[i];
    return;
  }
  var total = 0.0;
  var weights = 0.0;
  for (var dy = -2; dy <= 2; dy++) {
    for (var dx = -2; dx <= 2; dx++) {
      let w = exp(-f32(dx * dx + dy * dy) / (2.0 * sigma * sigma));
      total += w * pixel(plane, y + dy, xx + dx);
      weights += w;
    }
  }
  out[i] = total / weights;
}

fn hash(v: u32) -> u32 {
  var h = v * 747796405u + 2891336453u;
  h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
  return (h >> 22u) ^ h;
}

fn uniform01(counter: u32) -> f32 {
  let h = hash(hash(counter) ^ p.seed);
  return (f32(h >> 8u) + 0.5) / 16777216.0;
}

// Gaussian noise (Box-Muller from a counter-based hash of the element index
// and the seed), then random erasing of a box in every channel.
@compute @workgroup_size(64)
fn noise_erase(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
               @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(wid, lid, groups);
  let size = p.height * p.width;
  if (i >= p.n * p.channels * size) { return; }
  let image = i / (p.channels * size);
  let within = i % size;
  let y = f32(within / p.width);
  let xx = f32(within % p.width);
  let base = image * p.stride;
  var value = x[i];
  let noise_std = params[base + 6u];
  if (noise_std > 0.0) {
    let u1 = uniform01(2u * i);
    let u2 = uniform01(2u * i + 1u);
    value += noise_std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
  }
  let ex = params[base + 7u];
  let ey = params[base + 8u];
  if (xx >= ex && xx < ex + params[base + 9u] && y >= ey && y < ey + params[base + 10u]) {
    value = params[base + 11u];
  }
  out[i] = value;
}
