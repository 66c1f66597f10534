// Pillow's Image.resize for 8-bit RGB, reproduced bit for bit (Pillow 9.4 src/libImaging/Resample.c).
// The trainer resizes with PIL, and sharp/libvips has no kernel that reproduces PIL's antialiased filters
// exactly (measured in bench/explain/README.md), so sharp decodes and this does the resampling: a pointing-game
// argmax on a near-tie must not move between the TypeScript and PyTorch evaluations.
//
// PIL's algorithm: separable, horizontal pass then vertical pass; per output index the filter is centred at
// (i + 0.5)·scale, stretched by max(scale, 1) when downscaling (antialias), normalised to sum 1, converted to
// fixed point with 22 fraction bits, and each pass rounds and clips to uint8.

export type Resampling = 'nearest' | 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';
export const RESAMPLINGS: readonly Resampling[] = ['nearest', 'box', 'bilinear', 'hamming', 'bicubic', 'lanczos'];

const PRECISION_BITS = 32 - 8 - 2;

interface Filter { support: number; fn: (x: number) => number; }

function sinc(x: number): number {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

const FILTERS: Record<Exclude<Resampling, 'nearest'>, Filter> = {
  box: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, fn: (x) => { x = Math.abs(x); return x < 1 ? 1 - x : 0; } },
  hamming: {
    support: 1,
    fn: (x) => {
      x = Math.abs(x);
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      return (Math.sin(x) / x) * (0.54 + 0.46 * Math.cos(x));
    },
  },
  bicubic: {
    support: 2,
    fn: (x) => {
      const a = -0.5; // PIL's bicubic uses a = -0.5 (torch's bicubic uses -0.75)
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, fn: (x) => (x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

interface Coeffs { ksize: number; bounds: Int32Array; kk: Int32Array; }

/** precompute_coeffs + normalize_coeffs_8bpc for the box [0, inSize) mapped onto outSize. */
function precompute(inSize: number, outSize: number, filter: Filter): Coeffs {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const v = x < xmax ? (ww !== 0 ? k[x] / ww : k[x]) : 0;
      // C's (int) truncates toward zero after adding ±0.5: round half away from zero.
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(v: number): number {
  if (v >= 1 << PRECISION_BITS << 8) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

// Sums stay exact in float64: 255·2^22·(taps ≤ a few hundred) < 2^53.
const HALF = 1 << (PRECISION_BITS - 1);

function horizontal(src: Uint8Array, srcW: number, rows: number, c: Coeffs, outW: number): Uint8Array {
  const out = new Uint8Array(outW * rows * 3);
  const { ksize, bounds, kk } = c;
  for (let y = 0; y < rows; y++) {
    const rowIn = y * srcW * 3;
    const rowOut = y * outW * 3;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[xx * 2], xmax = bounds[xx * 2 + 1], kOff = xx * ksize;
      let s0 = HALF, s1 = HALF, s2 = HALF;
      for (let x = 0; x < xmax; x++) {
        const w = kk[kOff + x];
        const p = rowIn + (x + xmin) * 3;
        s0 += src[p] * w; s1 += src[p + 1] * w; s2 += src[p + 2] * w;
      }
      const o = rowOut + xx * 3;
      out[o] = clip8(s0); out[o + 1] = clip8(s1); out[o + 2] = clip8(s2);
    }
  }
  return out;
}

function vertical(src: Uint8Array, width: number, c: Coeffs, outH: number): Uint8Array {
  const out = new Uint8Array(width * outH * 3);
  const { ksize, bounds, kk } = c;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2], ymax = bounds[yy * 2 + 1], kOff = yy * ksize;
    for (let xx = 0; xx < width; xx++) {
      let s0 = HALF, s1 = HALF, s2 = HALF;
      for (let y = 0; y < ymax; y++) {
        const w = kk[kOff + y];
        const p = ((y + ymin) * width + xx) * 3;
        s0 += src[p] * w; s1 += src[p + 1] * w; s2 += src[p + 2] * w;
      }
      const o = (yy * width + xx) * 3;
      out[o] = clip8(s0); out[o + 1] = clip8(s1); out[o + 2] = clip8(s2);
    }
  }
  return out;
}

/**
 * PIL NEAREST resize: the affine fast path (Geometry.c ImagingScaleAffine) starts at half a step and ADDS the
 * step per pixel, truncating each running coordinate; the running sum is kept to match its rounding.
 */
function nearestTable(inSize: number, outSize: number): Int32Array {
  const step = inSize / outSize;
  const table = new Int32Array(outSize);
  let pos = step * 0.5;
  for (let i = 0; i < outSize; i++) {
    table[i] = Math.min(inSize - 1, Math.trunc(pos));
    pos += step;
  }
  return table;
}

function nearest(src: Uint8Array, srcW: number, srcH: number, outW: number, outH: number): Uint8Array {
  const out = new Uint8Array(outW * outH * 3);
  const xs = nearestTable(srcW, outW), ys = nearestTable(srcH, outH);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const p = (ys[y] * srcW + xs[x]) * 3, o = (y * outW + x) * 3;
      out[o] = src[p]; out[o + 1] = src[p + 1]; out[o + 2] = src[p + 2];
    }
  }
  return out;
}

/** Resize interleaved 8-bit RGB exactly like `PIL.Image.resize((outW, outH), method)` on an RGB image. */
export function resizeRgbLikePil(src: Uint8Array, srcW: number, srcH: number, outW: number, outH: number, method: Resampling): Uint8Array {
  if (src.length !== srcW * srcH * 3) throw new Error(`resize: expected ${srcW}×${srcH}×3 bytes, got ${src.length}`);
  if (srcW === outW && srcH === outH) return src.slice();
  if (method === 'nearest') return nearest(src, srcW, srcH, outW, outH);
  const filter = FILTERS[method];
  if (!filter) throw new Error(`resize: unknown resampling ${JSON.stringify(method)} (known: ${RESAMPLINGS.join(', ')})`);
  const needH = outW !== srcW, needV = outH !== srcH;
  const cv = precompute(srcH, outH, filter);
  let cur = src, curW = srcW;
  let vBounds = cv;
  if (needH) {
    // PIL resamples only the source rows the vertical pass will read, then shifts the vertical bounds.
    const first = cv.bounds[0];
    const last = cv.bounds[outH * 2 - 2] + cv.bounds[outH * 2 - 1];
    const rows = needV ? last - first : srcH;
    const start = needV ? first : 0;
    const ch = precompute(srcW, outW, filter);
    cur = horizontal(src.subarray(start * srcW * 3, (start + rows) * srcW * 3), srcW, rows, ch, outW);
    curW = outW;
    if (needV) {
      const shifted = cv.bounds.slice();
      for (let i = 0; i < outH; i++) shifted[i * 2] -= first;
      vBounds = { ...cv, bounds: shifted };
    }
  }
  return needV ? vertical(cur, curW, vBounds, outH) : cur;
}
