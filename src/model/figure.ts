// Figures for the CLI and the HTML report, drawn with sharp: the image, the GradCAM overlay with the
// pointing-game point, the box mask, and a per-token strip. Display only: colours are min-max scaled
// (colorizeMap), the numbers the user reads come from the engine.
import sharp from 'sharp';
import { upsampleBicubic, upsampleBilinear } from '../core/math/interpolate';
import { colorizeMap, type ColormapName } from '../core/math/colormap';
import { boxesToMask } from '../core/math/mask';
import type { BoxXYXY } from '../core/types';
import { decodeRgb, readImageBytes, type RgbImage } from './image';
import type { ExplainResult } from './runtime';

export interface FigureOptions {
  /** Height of the image panels in pixels (default 320). */
  panelHeight?: number;
  colormap?: ColormapName;
  /** Heatmap opacity over the image (default 0.5). */
  opacity?: number;
  /** Largest image file read, in bytes (default DEFAULT_MAX_FILE_BYTES; CLI --max-file-mb). */
  maxFileBytes?: number;
  /** Set (card/itmNote) when the model's ITM head was not trained: printed instead of the ITM score. */
  itmNote?: string;
}

/** The figure's heading lines: phrase, ITM score (only when it means something, else the note), point. */
export function figureTitle(phrase: string, result: Pick<ExplainResult, 'score' | 'itmProbability' | 'point'>, itmNote?: string): string[] {
  const point = `point (${result.point.x}, ${result.point.y})`;
  if (itmNote) return [`"${phrase}"  ·  ${point}`, itmNote];
  return [`"${phrase}"  ·  ITM score ${result.score.toFixed(3)} (p=${result.itmProbability.toFixed(3)})  ·  ${point}`];
}

/** The image in the pixel frame the result used (EXIF applied unless the result's size says otherwise). */
export async function loadImageFor(file: string, result: { width: number; height: number }, maxFileBytes?: number): Promise<RgbImage> {
  const bytes = await readImageBytes(file, maxFileBytes);
  const turned = await decodeRgb(bytes, file);
  if (turned.width === result.width && turned.height === result.height) return turned;
  const stored = await decodeRgb(bytes, file, undefined, false);
  if (stored.width === result.width && stored.height === result.height) return stored;
  throw new Error(`${file}: the image is ${turned.width}×${turned.height}, but the explanation was computed for ${result.width}×${result.height} (file changed?)`);
}

async function resizeRgb(img: RgbImage, width: number, height: number): Promise<Buffer> {
  return sharp(
    Buffer.from(img.data.buffer, img.data.byteOffset, img.data.length), { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .raw().toBuffer();
}

/** Alpha-blend an RGBA heatmap over RGB pixels. */
function blend(rgb: Uint8Array, heat: Uint8ClampedArray): Buffer {
  const out = Buffer.alloc(rgb.length);
  for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
    const a = heat[q + 3] / 255;
    out[p] = Math.round(rgb[p] * (1 - a) + heat[q] * a);
    out[p + 1] = Math.round(rgb[p + 1] * (1 - a) + heat[q + 1] * a);
    out[p + 2] = Math.round(rgb[p + 2] * (1 - a) + heat[q + 2] * a);
  }
  return out;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' }[c]!));
}

function pointMarker(x: number, y: number, r = 7): string {
  return `<circle cx="${x}" cy="${y}" r="${r}" fill="none" stroke="white" stroke-width="4"/>` +
    `<circle cx="${x}" cy="${y}" r="${r}" fill="none" stroke="black" stroke-width="2"/>` +
    `<circle cx="${x}" cy="${y}" r="2" fill="white"/>`;
}

function boxOutlines(boxes: readonly BoxXYXY[], sx: number, sy: number, ox = 0, oy = 0): string {
  return boxes.map((b) => `<rect x="${ox + b[0] * sx}" y="${oy + b[1] * sy}" width="${Math.max(1, (b[2] - b[0]) * sx)}" height="${Math.max(1, (b[3] - b[1]) * sy)}" fill="none" stroke="#00ff66" stroke-width="2"/>`).join('');
}

interface Panel { width: number; height: number; scale: number; }

function panelFor(width: number, height: number, panelHeight: number): Panel {
  const scale = panelHeight / height;
  return { width: Math.max(1, Math.round(width * scale)), height: panelHeight, scale };
}

/** GradCAM over the image at panel size (raw map → bicubic, as the pointing game, then coloured). */
function overlayPixels(base: Uint8Array, result: ExplainResult, p: Panel, colormap: ColormapName, opacity: number): Buffer {
  const heat = upsampleBicubic(result.gradcam, result.grid, result.grid, p.height, p.width);
  return blend(base, colorizeMap(heat, p.width, p.height, colormap, opacity));
}

/**
 * `amc explain` figure: header (phrase, score, point) / image | heatmap overlay + point / per-token strip.
 * Returns PNG bytes.
 */
export async function explainFigure(imageFile: string, phrase: string, result: ExplainResult, opts: FigureOptions = {}): Promise<Buffer> {
  const H = opts.panelHeight ?? 320;
  const colormap = opts.colormap ?? 'jet';
  const opacity = opts.opacity ?? 0.5;
  const img = await loadImageFor(imageFile, result, opts.maxFileBytes);
  const p = panelFor(img.width, img.height, H);
  const base = await resizeRgb(img, p.width, p.height);
  const overlay = overlayPixels(base, result, p, colormap, opacity);

  const title = figureTitle(phrase, result, opts.itmNote);
  const gap = 12, header = title.length > 1 ? 64 : 44, tileH = 96, labelH = 22;
  const tile = panelFor(img.width, img.height, tileH);
  const topWidth = p.width * 2 + gap * 3;
  const perRow = Math.max(1, Math.floor((topWidth - gap) / (tile.width + gap)));
  const rows = Math.ceil(result.tokens.length / perRow);
  const width = Math.max(topWidth, perRow * (tile.width + gap) + gap);
  const height = header + H + gap + rows * (tileH + labelH + gap) + gap;

  const thumb = await resizeRgb(img, tile.width, tile.height);
  const composites: NonNullable<Parameters<ReturnType<typeof sharp>["composite"]>[0]> = [
    { input: base, raw: { width: p.width, height: p.height, channels: 3 }, left: gap, top: header },
    { input: overlay, raw: { width: p.width, height: p.height, channels: 3 }, left: gap * 2 + p.width, top: header },
  ];
  let svg = '';
  result.tokens.forEach((tok, t) => {
    const r = Math.floor(t / perRow), c = t % perRow;
    const left = gap + c * (tile.width + gap), top = header + H + gap + r * (tileH + labelH + gap);
    // per-token maps share one display scale per tile (min-max of that token's map), bilinear for smoothness
    const map = upsampleBilinear(result.tokenGradcam[t], result.grid, result.grid, tile.height, tile.width);
    composites.push({
      input: blend(thumb, colorizeMap(map, tile.width, tile.height, colormap, 0.6)),
      raw: { width: tile.width, height: tile.height, channels: 3 }, left, top,
    });
    svg += `<text x="${left + tile.width / 2}" y="${top + tileH + 16}" text-anchor="middle" font-family="DejaVu Sans, sans-serif" font-size="13" fill="#222">${escapeXml(tok)}</text>`;
  });
  const px = gap * 2 + p.width + (result.point.x + 0.5) * p.scale;
  const py = header + (result.point.y + 0.5) * p.scale;
  svg += pointMarker(px, py);
  svg += `<text x="${gap}" y="28" font-family="DejaVu Sans, sans-serif" font-size="16" fill="#111">${escapeXml(title[0])}</text>`;
  if (title[1]) svg += `<text x="${gap}" y="50" font-family="DejaVu Sans, sans-serif" font-size="13" fill="#444">${escapeXml(title[1])}</text>`;
  composites.push({ input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${svg}</svg>`), left: 0, top: 0 });

  return sharp({ create: { width, height, channels: 3, background: '#ffffff' } }).composite(composites).png().toBuffer();
}

/** The three report panels of a dataset sample, as PNGs of height `size`: image + GT boxes, box mask, GradCAM + point. */
export async function samplePanels(imageFile: string, boxes: readonly BoxXYXY[], result: ExplainResult, size = 192,
    colormap: ColormapName = 'jet', maxFileBytes?: number): Promise<{ image: Buffer; mask: Buffer; gradcam: Buffer }> {
  const img = await loadImageFor(imageFile, result, maxFileBytes);
  const p = panelFor(img.width, img.height, size);
  const base = await resizeRgb(img, p.width, p.height);
  const svgFor = (inner: string): Buffer => Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${p.width}" height="${p.height}">${inner}</svg>`);
  const sx = p.width / img.width, sy = p.height / img.height;

  const image = await sharp(base, { raw: { width: p.width, height: p.height, channels: 3 } })
    .composite([{ input: svgFor(boxOutlines(boxes, sx, sy)) }]).png().toBuffer();

  // The mask at original resolution as the reference builds it (docs/reference.md §2), then shown at panel size.
  const full = boxesToMask(boxes, img.width, img.height);
  const maskPx = Buffer.alloc(full.length);
  for (let i = 0; i < full.length; i++) maskPx[i] = full[i] ? 255 : 0;
  const mask = await sharp(maskPx, { raw: { width: img.width, height: img.height, channels: 1 } })
    .resize(p.width, p.height, { fit: 'fill', kernel: 'nearest' }).png().toBuffer();

  const overlay = overlayPixels(base, result, p, colormap, 0.5);
  const gradcam = await sharp(overlay, { raw: { width: p.width, height: p.height, channels: 3 } })
    .composite([{ input: svgFor(boxOutlines(boxes, sx, sy) + pointMarker((result.point.x + 0.5) * sx, (result.point.y + 0.5) * sy, 6)) }])
    .png().toBuffer();
  return { image, mask, gradcam };
}
