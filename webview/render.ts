// Canvas drawing of the three side-by-side panes. Numbers come from src/core/math (the same code the engine and
// CLI use); colours come from the theme's --vscode-* variables, read at draw time so a theme switch repaints right.
import { boxesToMask, colorizeMap, colormap, upsampleBicubic } from '../src/core/math';
import type { BoxXYXY } from '../src/core/types';

export type ColormapName = 'jet' | 'viridis';

export interface Palette {
  foreground: string;
  background: string;
  box: string;
  drawnBox: string;
  point: string;
  pointHalo: string;
  fontFamily: string;
}

function cssVar(name: string, fallbackVar?: string): string {
  const style = getComputedStyle(document.body);
  const v = style.getPropertyValue(name).trim();
  if (v || !fallbackVar) return v;
  return style.getPropertyValue(fallbackVar).trim();
}

/** Theme colours for canvas drawing (canvas cannot use CSS variables directly). */
export function readPalette(): Palette {
  return {
    foreground: cssVar('--vscode-editor-foreground') || cssVar('color'),
    background: cssVar('--vscode-editor-background'),
    box: cssVar('--vscode-charts-green', '--vscode-testing-iconPassed'),
    drawnBox: cssVar('--vscode-charts-yellow', '--vscode-editorWarning-foreground'),
    point: cssVar('--vscode-charts-red', '--vscode-errorForeground'),
    pointHalo: cssVar('--vscode-editor-background'),
    fontFamily: cssVar('--vscode-font-family') || 'sans-serif',
  };
}

/** RGB of any CSS colour string, through the canvas' own parser. */
export function parseColor(color: string): [number, number, number] {
  const c = document.createElement('canvas');
  c.width = c.height = 1;
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  ctx.fillStyle = color || '#000';
  ctx.fillRect(0, 0, 1, 1);
  const d = ctx.getImageData(0, 0, 1, 1).data;
  return [d[0], d[1], d[2]];
}

/** Display size of a width×height image inside maxWidth×maxHeight, keeping the aspect ratio. */
export function fitSize(width: number, height: number, maxWidth: number, maxHeight: number): { w: number; h: number; scale: number } {
  const scale = Math.min(maxWidth / width, maxHeight / height);
  return { w: Math.max(1, Math.round(width * scale)), h: Math.max(1, Math.round(height * scale)), scale };
}

/**
 * How image pixels land on a pane, shared by every pane (synchronised zoom and pan): image point (x, y) is drawn at
 * CSS pixel (tx + scale·x, ty + scale·y); the canvas has cssW×cssH CSS pixels backed by dpr device pixels each.
 */
export interface PaneView { cssW: number; cssH: number; dpr: number; scale: number; tx: number; ty: number; }

export const toScreen = (v: PaneView, x: number, y: number): { x: number; y: number } =>
  ({ x: v.tx + v.scale * x, y: v.ty + v.scale * y });
export const toImage = (v: PaneView, sx: number, sy: number): { x: number; y: number } =>
  ({ x: (sx - v.tx) / v.scale, y: (sy - v.ty) / v.scale });

/** Sizes the canvas for the view (device pixels for sharpness) and returns its context in CSS pixel units, cleared. */
export function prepareView(canvas: HTMLCanvasElement, v: PaneView, background?: string): CanvasRenderingContext2D {
  const w = Math.max(1, Math.round(v.cssW * v.dpr)), h = Math.max(1, Math.round(v.cssH * v.dpr));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  canvas.style.width = `${v.cssW}px`;
  canvas.style.height = `${v.cssH}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.setTransform(v.dpr, 0, 0, v.dpr, 0, 0);
  if (background) { ctx.fillStyle = background; ctx.fillRect(0, 0, v.cssW, v.cssH); }
  return ctx;
}

/**
 * Draws `source` (covering the image's width×height) through the view. Image pixels are interpolated only while
 * they are smaller than two device pixels; zoomed further they are drawn as crisp blocks (nearest neighbour).
 */
function drawThroughView(ctx: CanvasRenderingContext2D, v: PaneView, source: CanvasImageSource, srcW: number, srcH: number,
  width: number, height: number, forceNearest = false, alpha = 1): void {
  ctx.save();
  const sx = (v.scale * width) / srcW, sy = (v.scale * height) / srcH;
  ctx.setTransform(v.dpr * sx, 0, 0, v.dpr * sy, v.dpr * v.tx, v.dpr * v.ty);
  ctx.imageSmoothingEnabled = !forceNearest && v.scale * v.dpr < 2;
  ctx.imageSmoothingQuality = 'high';
  ctx.globalAlpha = alpha;
  ctx.drawImage(source, 0, 0);
  ctx.restore();
}

function strokeBox(ctx: CanvasRenderingContext2D, v: PaneView, box: BoxXYXY, color: string, dashed: boolean, width = 2): void {
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  if (dashed) ctx.setLineDash([6, 4]);
  const a = toScreen(v, box[0], box[1]), b = toScreen(v, box[2], box[3]);
  // Inside the box's pixels: the outline covers its border pixels, never the neighbours outside.
  const inset = width / 2;
  ctx.strokeRect(a.x + inset, a.y + inset, Math.max(0, b.x - a.x - width), Math.max(0, b.y - a.y - width));
  ctx.restore();
}

/** The pointing-game point (docs/reference.md §4.1) as a ring and cross at the centre of its pixel, the same size at any zoom. */
function drawPoint(ctx: CanvasRenderingContext2D, v: PaneView, point: { x: number; y: number }, palette: Palette): void {
  const { x, y } = toScreen(v, point.x + 0.5, point.y + 0.5);
  ctx.save();
  ctx.lineWidth = 4; ctx.strokeStyle = palette.pointHalo;
  ctx.beginPath(); ctx.arc(x, y, 7, 0, Math.PI * 2); ctx.stroke();
  ctx.lineWidth = 2; ctx.strokeStyle = palette.point;
  ctx.beginPath(); ctx.arc(x, y, 7, 0, Math.PI * 2); ctx.stroke();
  ctx.beginPath(); ctx.moveTo(x - 11, y); ctx.lineTo(x - 3, y); ctx.moveTo(x + 3, y); ctx.lineTo(x + 11, y);
  ctx.moveTo(x, y - 11); ctx.lineTo(x, y - 3); ctx.moveTo(x, y + 3); ctx.lineTo(x, y + 11); ctx.stroke();
  ctx.restore();
}

export interface ImageLayer { source: CanvasImageSource; width: number; height: number; }

/** Pane 1: the image at full resolution with its ground-truth box outlines (and the user's box, dashed). */
export function drawImagePane(canvas: HTMLCanvasElement, v: PaneView, image: ImageLayer | undefined, boxes: readonly BoxXYXY[],
  palette: Palette, drawn?: BoxXYXY, background?: string): void {
  const ctx = prepareView(canvas, v, background);
  if (image) drawThroughView(ctx, v, image.source, image.width, image.height, image.width, image.height);
  for (const b of boxes) strokeBox(ctx, v, b, palette.box, false);
  if (drawn) strokeBox(ctx, v, drawn, palette.drawnBox, true);
}

/**
 * Pane 2: the box mask exactly as the loss builds it (docs/reference.md §2: clamp, int(), end-exclusive) at original resolution,
 * over the dimmed image: outside the mask the image is veiled with the editor background, inside it is tinted with
 * the box colour. Drawn nearest-neighbour, so its pixel edges are the mask's.
 */
export function drawMaskPane(canvas: HTMLCanvasElement, v: PaneView, image: ImageLayer | undefined, width: number, height: number,
  boxes: readonly BoxXYXY[], palette: Palette, background?: string): void {
  const ctx = prepareView(canvas, v, background ?? palette.background);
  if (image) drawThroughView(ctx, v, image.source, image.width, image.height, width, height);
  const overlay = maskOverlay(width, height, boxes, palette);
  drawThroughView(ctx, v, overlay, overlay.width, overlay.height, width, height, true);
  for (const b of boxes) strokeBox(ctx, v, b, palette.box, false, 1);
}

// The full-resolution overlay of the current sample, kept so zooming or re-theming the pane does not rebuild a
// width×height array each time (a 24-megapixel photo would stall the page).
let maskCache: { key: string; canvas: HTMLCanvasElement } | undefined;

function maskOverlay(width: number, height: number, boxes: readonly BoxXYXY[], palette: Palette): HTMLCanvasElement {
  const key = JSON.stringify([width, height, boxes, palette.box, palette.background]);
  if (maskCache?.key === key) return maskCache.canvas;
  const mask = boxesToMask(boxes, width, height);
  const on = parseColor(palette.box), off = parseColor(palette.background);
  const full = document.createElement('canvas');
  full.width = width; full.height = height;
  const fctx = full.getContext('2d')!;
  const img = fctx.createImageData(width, height);
  const px = new Uint32Array(img.data.buffer);
  const pack = (c: [number, number, number], a: number) => new Uint32Array(new Uint8ClampedArray([c[0], c[1], c[2], a]).buffer)[0];
  const onPx = pack(on, 110), offPx = pack(off, 200);
  for (let i = 0; i < mask.length; i++) px[i] = mask[i] ? onPx : offPx;
  fctx.putImageData(img, 0, 0);
  maskCache = { key, canvas: full };
  return full;
}

/** How the map is drawn: 'smooth' as the engine upsamples it (bicubic, docs/reference.md §1.3), 'grid' its raw g×g cells. */
export type MapStyle = 'smooth' | 'grid';

/** A coloured map layer with the raw GradCAM range its colours span (min → bottom of the colormap, max → top). */
export interface HeatLayer { canvas: HTMLCanvasElement; min: number; max: number; }

const MAX_LAYER_SIDE = 1024;
const layerCache = new Map<string, HeatLayer>();
const layerKeys = new WeakMap<readonly number[], number>();
let nextLayerKey = 1;

/**
 * The map coloured for display: bicubic to the image's size (capped at 1024 px on the long side) or the raw grid,
 * min-max scaled into the colormap. Cached per map array, style and colormap (a few entries).
 */
export function heatLayer(map: readonly number[], grid: number, width: number, height: number, style: MapStyle, colormapName: ColormapName,
  maxSide = MAX_LAYER_SIDE): HeatLayer {
  let id = layerKeys.get(map);
  if (id === undefined) { id = nextLayerKey++; layerKeys.set(map, id); }
  const key = `${id}|${grid}|${width}|${height}|${style}|${colormapName}|${maxSide}`;
  const hit = layerCache.get(key);
  if (hit) { layerCache.delete(key); layerCache.set(key, hit); return hit; }
  let values: ArrayLike<number>, lw: number, lh: number;
  if (style === 'grid') { values = map; lw = lh = grid; } else {
    const f = Math.min(1, maxSide / Math.max(width, height));
    lw = Math.max(1, Math.round(width * f)); lh = Math.max(1, Math.round(height * f));
    values = upsampleBicubic(map as number[], grid, grid, lh, lw);
  }
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < values.length; i++) { const x = values[i]; if (x < min) min = x; if (x > max) max = x; }
  const canvas = document.createElement('canvas');
  canvas.width = lw; canvas.height = lh;
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(colorizeMap(values, lw, lh, colormapName, 1)), lw, lh), 0, 0);
  const layer = { canvas, min, max };
  layerCache.set(key, layer);
  while (layerCache.size > 96) layerCache.delete(layerCache.keys().next().value as string);
  return layer;
}

/**
 * Pane 3: the image under the GradCAM layer (drawn nearest-neighbour, so zoomed in each layer pixel is a crisp block
 * aligned with the image's pixels), the ground-truth outlines, the user's box and the pointing-game point.
 */
export function drawHeatmapPane(canvas: HTMLCanvasElement, v: PaneView, image: ImageLayer | undefined, layer: HeatLayer | undefined,
  width: number, height: number, opts: { opacity: number; point?: { x: number; y: number } },
  palette: Palette, drawn?: BoxXYXY, boxes: readonly BoxXYXY[] = [], background?: string): void {
  const ctx = prepareView(canvas, v, background);
  if (image) drawThroughView(ctx, v, image.source, image.width, image.height, width, height);
  if (layer) drawThroughView(ctx, v, layer.canvas, layer.canvas.width, layer.canvas.height, width, height, true, image ? opts.opacity : 1);
  for (const b of boxes) strokeBox(ctx, v, b, palette.box, false, 1.5);
  if (drawn) strokeBox(ctx, v, drawn, palette.drawnBox, true);
  if (opts.point) drawPoint(ctx, v, opts.point, palette);
}

/** A horizontal colour bar of the colormap, `w`×`h` CSS pixels. */
export function drawColorBar(canvas: HTMLCanvasElement, colormapName: ColormapName, w: number, h: number, dpr = 1): void {
  canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`; canvas.style.height = `${h}px`;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(canvas.width, canvas.height);
  for (let x = 0; x < canvas.width; x++) {
    const [r, g, b] = colormap(colormapName, canvas.width > 1 ? x / (canvas.width - 1) : 0);
    for (let y = 0; y < canvas.height; y++) {
      const i = (y * canvas.width + x) * 4;
      img.data[i] = r; img.data[i + 1] = g; img.data[i + 2] = b; img.data[i + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

/** A raw GradCAM value for a colour-bar label: 3 significant digits, exponent form for tiny or huge values. */
export function formatMapValue(x: number): string {
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(2);
  return Number(x.toPrecision(3)).toString();
}

/** A gallery thumbnail: the image letterboxed in cssW×cssH under its mean GradCAM, GT outlines and the point. */
export function drawThumbnail(canvas: HTMLCanvasElement, cssW: number, cssH: number, dpr: number, image: ImageLayer | undefined,
  t: { width: number; height: number; grid: number; gradcam: number[]; point: { x: number; y: number }; boxes: readonly BoxXYXY[] },
  colormapName: ColormapName, opacity: number, palette: Palette): void {
  const fit = fitSize(t.width, t.height, cssW, cssH);
  const v: PaneView = { cssW, cssH, dpr, scale: fit.scale, tx: (cssW - fit.w) / 2, ty: (cssH - fit.h) / 2 };
  // Bicubic at about the thumbnail's device size: what the eye can see, at a fraction of the image-size cost.
  const layer = heatLayer(t.gradcam, t.grid, t.width, t.height, 'smooth', colormapName, Math.ceil(Math.max(fit.w, fit.h) * dpr));
  drawHeatmapPane(canvas, v, image, layer, t.width, t.height, { opacity, point: t.point }, palette, undefined, t.boxes);
}
