// The AMC loss (docs/reference.md §2) and the training-map path of GradCAM (docs/reference.md §1.3 "Training only").
import type { BoxXYXY } from '../types';
import { upsampleBilinear, type MapArray } from './interpolate';
import { boxesToMask, resizeMaskNearest } from './mask';

export const MASK_SIZE = 256;          // docs/reference.md §0: mask_size 256
export const MARGIN_MEAN = 0.1;        // docs/reference.md §2: "margin = 0.1" (model_pretrain.py L238)
export const MARGIN_MAX = 0.5;         // docs/reference.md §2: "margin = 0.5" (L243)
export const WEIGHT_MEAN = 0.2;        // docs/reference.md §2: Pretrain.py L80
export const WEIGHT_MAX = 0.8;

export interface AmcLoss { lMean: number; lMax: number; total: number; }
export interface SampleLoss extends AmcLoss {
  maskEmpty: boolean;                  // no pixel inside the (clamped) box(es)
  maskFull: boolean;                   // the box(es) cover the whole image
}

/** Per-sample min-max normalisation: subtract the min, divide by (max after subtracting + 1e-7) (docs/reference.md §1.3). */
export function normalizeMinMax(cam: MapArray): Float32Array {
  let min = Infinity;
  for (let i = 0; i < cam.length; i++) min = Math.min(min, cam[i]);
  const out = new Float32Array(cam.length);
  let max = -Infinity;
  for (let i = 0; i < cam.length; i++) { out[i] = cam[i] - min; max = Math.max(max, out[i]); }
  const denominator = max + 1e-7;
  for (let i = 0; i < out.length; i++) out[i] /= denominator;
  return out;
}

/** The map the AMC loss sees: ReLU (a no-op on a GradCAM map), min-max, bilinear g×g → 256×256 (docs/reference.md §1.3). */
export function trainingMap(rawCam: MapArray, grid: number, size = MASK_SIZE): Float32Array {
  if (rawCam.length !== grid * grid) throw new RangeError(`cam has ${rawCam.length} values, expected ${grid}×${grid}`);
  const relu = Float32Array.from(rawCam, (v) => Math.max(v, 0));
  return upsampleBilinear(normalizeMinMax(relu), grid, grid, size, size);
}

/**
 * L_mean, L_max and 0.2·L_mean + 0.8·L_max over a batch of normalised maps A_b and binary masks M_b (docs/reference.md §2):
 * L_mean is ONE hinge on batch-pooled means; L_max is a hinge per sample, averaged.
 *
 * Empty regions: the reference divides by Σ M (or Σ (1−M)) and gets 0/0 = NaN when the whole batch has no pixel
 * inside (or outside) a box. We take the mean over an empty region as 0 — the same value the reference's own
 * max-term gives an empty region (max of an all-zero product is 0, docs/reference.md §2 "Edge cases") — so an empty mask gives
 * L_mean = max(0, mean_out + 0.1) and a whole-image mask gives L_mean = max(0, 0.1 − mean_in); both are finite and
 * flagged to the user (SampleLoss.maskEmpty / maskFull) instead of a NaN in a table.
 */
export function amcLoss(maps: readonly MapArray[], masks: readonly Uint8Array[]): AmcLoss {
  if (maps.length !== masks.length || maps.length === 0) throw new RangeError('amcLoss needs as many masks as maps, at least one');
  let sumIn = 0, countIn = 0, sumOut = 0, countOut = 0, lMaxSum = 0;
  for (let b = 0; b < maps.length; b++) {
    const a = maps[b], m = masks[b];
    if (a.length !== m.length) throw new RangeError(`map ${b} has ${a.length} values but its mask ${m.length}`);
    let maxIn = 0, maxOut = 0; // A ≥ 0, so max(A·M) over a region with no pixel is 0, as in the reference
    for (let p = 0; p < a.length; p++) {
      const v = a[p];
      if (m[p]) { sumIn += v; countIn++; if (v > maxIn) maxIn = v; }
      else { sumOut += v; countOut++; if (v > maxOut) maxOut = v; }
    }
    lMaxSum += Math.max(0, maxOut - maxIn + MARGIN_MAX);
  }
  const meanIn = countIn ? sumIn / countIn : 0;
  const meanOut = countOut ? sumOut / countOut : 0;
  const lMean = Math.max(0, meanOut - meanIn + MARGIN_MEAN);
  const lMax = lMaxSum / maps.length;
  return { lMean, lMax, total: WEIGHT_MEAN * lMean + WEIGHT_MAX * lMax };
}

/**
 * The per-sample L_mean / L_max the viewer shows: the training losses at batch size 1 (docs/architecture.md) for a RAW g×g
 * evaluation map and the sample's box(es) in original pixels: normalise → bilinear to 256; mask at original
 * resolution (union of the boxes: the reference's mask_all) → OpenCV-nearest to 256.
 */
export function sampleLosses(rawCam: MapArray, grid: number, boxes: readonly BoxXYXY[], width: number, height: number): SampleLoss {
  const map = trainingMap(rawCam, grid);
  const mask = resizeMaskNearest(boxesToMask(boxes, width, height), width, height, MASK_SIZE);
  let inside = 0;
  for (let i = 0; i < mask.length; i++) inside += mask[i];
  return { ...amcLoss([map], [mask]), maskEmpty: inside === 0, maskFull: inside === mask.length };
}
