// Box → mask exactly as the reference builds its training mask (docs/reference.md §2, "Box mask M").
import type { BoxXYXY } from '../types';

/** Clamp and truncate a box the way AMC's caption_dataset does (docs/reference.md §2 step 3): x1∈[0,w−1], y1∈[0,h−1],
 *  x2∈[1,w], y2∈[1,h], then Python int() (truncation toward zero; all values are ≥ 0 after clamping). */
export function clampBox(box: BoxXYXY, width: number, height: number): BoxXYXY {
  const [x1, y1, x2, y2] = box;
  return [
    Math.trunc(Math.min(Math.max(x1, 0), width - 1)),
    Math.trunc(Math.min(Math.max(y1, 0), height - 1)),
    Math.trunc(Math.min(Math.max(x2, 1), width)),
    Math.trunc(Math.min(Math.max(y2, 1), height)),
  ];
}

/** A clamped box with x1 ≥ x2 or y1 ≥ y2 sets no pixel (docs/reference.md §2 step 4). */
export function isDegenerate(box: BoxXYXY): boolean {
  return box[0] >= box[2] || box[1] >= box[3];
}

/** Union mask of boxes at original resolution, row-major, 1 inside: `gt_mask[y1:y2, x1:x2] = 1` per box
 *  (end-exclusive, docs/reference.md §2 step 5). The reference draws one random box per step; the OR of all boxes is its
 *  `mask_all` mode and what the viewer shows for a sample with several boxes. */
export function boxesToMask(boxes: readonly BoxXYXY[], width: number, height: number): Uint8Array {
  if (!(width > 0 && height > 0)) throw new RangeError(`mask size must be positive, got ${width}×${height}`);
  const mask = new Uint8Array(width * height);
  for (const box of boxes) {
    if (box.some((v) => !Number.isFinite(v))) throw new RangeError(`box [${box.join(', ')}] has a non-finite coordinate`);
    const [x1, y1, x2, y2] = clampBox(box, width, height);
    if (x1 >= x2 || y1 >= y2) continue;
    for (let y = y1; y < y2; y++) mask.fill(1, y * width + x1, y * width + x2);
  }
  return mask;
}

/** Source index of each destination index for OpenCV INTER_NEAREST: `min(n−1, floor(i · (1 / (size / n))))`,
 *  in float64 and in that order (docs/reference.md §2 step 6) — it differs from floor(i·n/size) for some n (246, 372, …). */
export function nearestSourceIndices(n: number, size: number): Int32Array {
  const inverseScale = 1 / (size / n);
  const out = new Int32Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.min(n - 1, Math.floor(i * inverseScale));
  return out;
}

/** Resize a width×height mask to size×size with OpenCV's nearest rule (albumentations Resize on masks). */
export function resizeMaskNearest(mask: Uint8Array, width: number, height: number, size = 256): Uint8Array {
  if (mask.length !== width * height) throw new RangeError(`mask has ${mask.length} values, expected ${width}×${height}`);
  const xs = nearestSourceIndices(width, size);
  const ys = nearestSourceIndices(height, size);
  const out = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    const row = ys[y] * width;
    for (let x = 0; x < size; x++) out[y * size + x] = mask[row + xs[x]];
  }
  return out;
}
