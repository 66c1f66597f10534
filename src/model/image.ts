// Image pipeline: file → RGB uint8 (sharp) → S×S (PIL-exact resampling) → CLIP-normalised float32 NCHW.
// Mirrors the trainer's `load_eval_image` (trainer/amc_trainer/data.py), which mirrors the reference
// evaluation (spec §4.2, §6): PIL RGB, resize to S×S ignoring the aspect ratio, ToTensor (/255), Normalize.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { resizeRgbLikePil, type Resampling } from './pil-resample';

/** 100 megapixels: PIL itself refuses images over 2·89.5 MP; a phone photo is ~12 MP. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

export interface ImageSpec {
  size: number;                          // S: the model's square input side
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  resampling: Resampling;
}

export interface RgbImage {
  width: number;    // after EXIF orientation
  height: number;
  data: Uint8Array; // interleaved RGB, row-major
}

/** An image that cannot be used; the message names the file. */
export class ImageError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'ImageError';
  }
}

/** Read the file's bytes, with messages for the usual failures. */
export async function readImageBytes(file: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageError(file, 'image file not found');
    if (code === 'EISDIR') throw new ImageError(file, 'is a folder, not an image');
    if (code === 'EACCES') throw new ImageError(file, 'image file is not readable (permission denied)');
    throw new ImageError(file, `cannot read image (${(e as Error).message})`);
  }
  if (bytes.length === 0) throw new ImageError(file, 'image file is empty (0 bytes)');
  return bytes;
}

/** sha256 of the bytes: the embedding cache key (same picture under another name is one entry). */
export function contentHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Decode to 8-bit RGB with EXIF orientation applied. Alpha is dropped, not composited, because PIL's
 * `convert('RGB')` drops it; greyscale is replicated; CMYK and other colour spaces go through sRGB.
 */
export async function decodeRgb(bytes: Uint8Array, file: string, maxPixels = DEFAULT_MAX_PIXELS, applyExif = true): Promise<RgbImage> {
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new ImageError(file, `not a readable image (${cleanSharpMessage(e)})`);
  }
  const w = meta.width ?? 0, h = meta.height ?? 0;
  if (!(w > 0 && h > 0)) throw new ImageError(file, 'image has no size (corrupt header?)');
  if (w * h > maxPixels) {
    throw new ImageError(file, `image is ${w}×${h} = ${(w * h / 1e6).toFixed(1)} megapixels, over the limit of ${(maxPixels / 1e6).toFixed(0)}`);
  }
  try {
    let pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' });
    if (applyExif) pipeline = pipeline.rotate(); // EXIF orientation
    const { data, info } = await pipeline
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError(file, `cannot decode image (${cleanSharpMessage(e)})`);
  }
}

/** Stored pixel size and EXIF orientation tag (1 when absent; 5–8 swap width and height). */
export async function storedSize(file: string): Promise<{ width: number; height: number; orientation: number } | undefined> {
  try {
    const m = await sharp(file, { limitInputPixels: false }).metadata();
    return m.width && m.height ? { width: m.width, height: m.height, orientation: m.orientation ?? 1 } : undefined;
  } catch {
    return undefined;
  }
}

function cleanSharpMessage(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0].trim();
}

/**
 * RGB uint8 (already S×S) → float32 NCHW, each value `(u8/255 − mean)/std` rounded to float32 at every step as
 * torch does it (ToTensor divides in float32, Normalize subtracts then divides in float32).
 */
export function normalizeToChw(rgb: Uint8Array, size: number, mean: readonly number[], std: readonly number[], out?: Float32Array): Float32Array {
  const plane = size * size;
  const tensor = out ?? new Float32Array(3 * plane);
  const f = Math.fround;
  const lut = [0, 1, 2].map((c) => {
    const m = f(mean[c]), s = f(std[c]);
    const t = new Float32Array(256);
    for (let v = 0; v < 256; v++) t[v] = f(f(f(v / 255) - m) / s);
    return t;
  });
  for (let i = 0; i < plane; i++) {
    tensor[i] = lut[0][rgb[i * 3]];
    tensor[plane + i] = lut[1][rgb[i * 3 + 1]];
    tensor[2 * plane + i] = lut[2][rgb[i * 3 + 2]];
  }
  return tensor;
}

export interface PreparedImage {
  file: string;
  hash: string;
  width: number;   // original size after EXIF orientation: the pointing game runs in these pixels
  height: number;
  tensor: Float32Array; // [3, S, S]
}

/** The whole pipeline for one image file. */
export async function prepareImage(file: string, spec: ImageSpec, maxPixels = DEFAULT_MAX_PIXELS, knownBytes?: Uint8Array): Promise<PreparedImage> {
  const bytes = knownBytes ?? await readImageBytes(file);
  const hash = contentHash(bytes);
  const rgb = await decodeRgb(bytes, file, maxPixels);
  const resized = resizeRgbLikePil(rgb.data, rgb.width, rgb.height, spec.size, spec.size, spec.resampling);
  return { file, hash, width: rgb.width, height: rgb.height, tensor: normalizeToChw(resized, spec.size, spec.mean, spec.std) };
}
