// Canvas drawing of the three side-by-side panes. Numbers come from src/core/math (the same code the engine and
// CLI use); colours come from the theme's --vscode-* variables, read at draw time so a theme switch repaints right.
import { boxesToMask, colorizeMap, upsampleBicubic } from '../src/core/math';
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

function prepare(canvas: HTMLCanvasElement, w: number, h: number): CanvasRenderingContext2D {
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return ctx;
}

function strokeBox(ctx: CanvasRenderingContext2D, box: BoxXYXY, scale: number, color: string, dashed: boolean, width = 2): void {
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  if (dashed) ctx.setLineDash([6, 4]);
  const [x1, y1, x2, y2] = box.map((v) => v * scale);
  ctx.strokeRect(x1 + 1, y1 + 1, Math.max(0, x2 - x1 - 2), Math.max(0, y2 - y1 - 2));
  ctx.restore();
}

/** Pane 1: the image with its ground-truth box outlines (and a box the user drew, dashed). */
export function drawImagePane(canvas: HTMLCanvasElement, image: CanvasImageSource, size: { w: number; h: number; scale: number },
  boxes: readonly BoxXYXY[], palette: Palette, drawn?: BoxXYXY): void {
  const ctx = prepare(canvas, size.w, size.h);
  ctx.drawImage(image, 0, 0, size.w, size.h);
  for (const b of boxes) strokeBox(ctx, b, size.scale, palette.box, false);
  if (drawn) strokeBox(ctx, drawn, size.scale, palette.drawnBox, true);
}

/** Pane 2: the box mask exactly as the loss builds it (spec §2: clamp, int(), end-exclusive), at original size. */
export function drawMaskPane(canvas: HTMLCanvasElement, width: number, height: number, size: { w: number; h: number },
  boxes: readonly BoxXYXY[], palette: Palette): void {
  const full = fullMask(width, height, boxes, palette);
  const ctx = prepare(canvas, size.w, size.h);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(full, 0, 0, size.w, size.h);
}

// The full-resolution mask of the current sample, kept so resizing or re-theming the pane does not rebuild a
// width×height array each time (a 24-megapixel photo would stall the page).
let maskCache: { key: string; canvas: HTMLCanvasElement } | undefined;

function fullMask(width: number, height: number, boxes: readonly BoxXYXY[], palette: Palette): HTMLCanvasElement {
  const key = JSON.stringify([width, height, boxes, palette.foreground, palette.background]);
  if (maskCache?.key === key) return maskCache.canvas;
  const mask = boxesToMask(boxes, width, height);
  const on = parseColor(palette.foreground), off = parseColor(palette.background);
  const full = document.createElement('canvas');
  full.width = width; full.height = height;
  const fctx = full.getContext('2d')!;
  const img = fctx.createImageData(width, height);
  const px = new Uint32Array(img.data.buffer);
  const pack = (c: [number, number, number]) => new Uint32Array(new Uint8ClampedArray([c[0], c[1], c[2], 255]).buffer)[0];
  const onPx = pack(on), offPx = pack(off);
  for (let i = 0; i < mask.length; i++) px[i] = mask[i] ? onPx : offPx;
  fctx.putImageData(img, 0, 0);
  maskCache = { key, canvas: full };
  return full;
}

/** Pane 3: the image under the GradCAM heatmap (raw g×g map → bicubic to the pane size → min-max → colormap)
 *  and the pointing-game point (spec §4.1) as a ring. */
export function drawHeatmapPane(canvas: HTMLCanvasElement, image: CanvasImageSource | undefined, size: { w: number; h: number; scale: number },
  map: readonly number[], grid: number, opts: { opacity: number; colormap: ColormapName; point?: { x: number; y: number } },
  palette: Palette, drawn?: BoxXYXY, boxes: readonly BoxXYXY[] = []): void {
  const ctx = prepare(canvas, size.w, size.h);
  if (image) ctx.drawImage(image, 0, 0, size.w, size.h);
  const up = upsampleBicubic(map as number[], grid, grid, size.h, size.w);
  const rgba = colorizeMap(up, size.w, size.h, opts.colormap, opts.opacity);   // min-max scaled for display
  const layer = document.createElement('canvas');
  layer.width = size.w; layer.height = size.h;
  layer.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(rgba), size.w, size.h), 0, 0);
  ctx.drawImage(layer, 0, 0);
  // Thin GT outlines: where the model looks against where the box is.
  for (const b of boxes) strokeBox(ctx, b, size.scale, palette.box, false, 1);
  if (drawn) strokeBox(ctx, drawn, size.scale, palette.drawnBox, true);
  if (opts.point) {
    const x = (opts.point.x + 0.5) * size.scale, y = (opts.point.y + 0.5) * size.scale;
    ctx.save();
    ctx.lineWidth = 4; ctx.strokeStyle = palette.pointHalo;
    ctx.beginPath(); ctx.arc(x, y, 7, 0, Math.PI * 2); ctx.stroke();
    ctx.lineWidth = 2; ctx.strokeStyle = palette.point;
    ctx.beginPath(); ctx.arc(x, y, 7, 0, Math.PI * 2); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(x - 11, y); ctx.lineTo(x + 11, y); ctx.moveTo(x, y - 11); ctx.lineTo(x, y + 11); ctx.stroke();
    ctx.restore();
  }
}

/** One PNG of the panes side by side with caption lines under them (Export PNG). */
export function composeExport(panes: HTMLCanvasElement[], lines: string[], palette: Palette): HTMLCanvasElement {
  const gap = 8, lineHeight = 18, pad = 8;
  const w = panes.reduce((s, c) => s + c.width, 0) + gap * (panes.length - 1) + pad * 2;
  const h = Math.max(...panes.map((c) => c.height)) + pad * 3 + lines.length * lineHeight;
  const out = document.createElement('canvas');
  out.width = w; out.height = h;
  const ctx = out.getContext('2d')!;
  ctx.fillStyle = palette.background || '#fff';
  ctx.fillRect(0, 0, w, h);
  let x = pad;
  for (const c of panes) { ctx.drawImage(c, x, pad); x += c.width + gap; }
  ctx.fillStyle = palette.foreground || '#000';
  ctx.font = `13px ${palette.fontFamily}`;
  ctx.textBaseline = 'top';
  const top = Math.max(...panes.map((c) => c.height)) + pad * 2;
  lines.forEach((line, i) => ctx.fillText(line, pad, top + i * lineHeight, w - pad * 2));
  return out;
}
