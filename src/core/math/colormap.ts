// Heatmap colouring for display: matplotlib's jet (what the AMC demo overlays) and viridis (perceptually uniform,
// readable in greyscale and by most colour-blind readers). Works in the webview too: no Node APIs.
import { JET_RGB, VIRIDIS_RGB } from './colormapTables';

export type ColormapName = 'jet' | 'viridis';
const TABLES: Record<ColormapName, Uint8Array> = { jet: JET_RGB, viridis: VIRIDIS_RGB };

/** RGB bytes for v ∈ [0, 1] (clamped; NaN → 0), with matplotlib's lookup: index = min(255, floor(v · 256)). */
export function colormap(name: ColormapName, v: number): [number, number, number] {
  const t = TABLES[name];
  const i = lutIndex(v) * 3;
  return [t[i], t[i + 1], t[i + 2]];
}

function lutIndex(v: number): number {
  if (!(v > 0)) return 0;
  return Math.min(255, Math.floor(v * 256));
}

/**
 * Colour a map (any range) as RGBA bytes: min-max scaled to [0, 1] for display, alpha = opacity · 255.
 * A constant map is drawn at the bottom of the scale rather than dividing by zero.
 */
export function colorizeMap(map: ArrayLike<number>, width: number, height: number, name: ColormapName, opacity = 1): Uint8ClampedArray {
  if (map.length !== width * height) throw new RangeError(`map has ${map.length} values, expected ${width}×${height}`);
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < map.length; i++) { const v = map[i]; if (v < min) min = v; if (v > max) max = v; }
  const range = max > min ? max - min : 1;
  const t = TABLES[name];
  const alpha = Math.round(Math.min(Math.max(opacity, 0), 1) * 255);
  const out = new Uint8ClampedArray(map.length * 4);
  for (let p = 0; p < map.length; p++) {
    const i = lutIndex((map[p] - min) / range) * 3;
    out[p * 4] = t[i]; out[p * 4 + 1] = t[i + 1]; out[p * 4 + 2] = t[i + 2]; out[p * 4 + 3] = alpha;
  }
  return out;
}
