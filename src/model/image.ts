// Image pipeline: file → RGB uint8 (sharp) → S×S (PIL-exact resampling) → CLIP-normalised float32 NCHW.
// Mirrors the trainer's `load_eval_image` (trainer/amc_trainer/data.py), which mirrors the reference
// evaluation (docs/reference.md §4.2, §6): PIL RGB, resize to S×S ignoring the aspect ratio, ToTensor (/255), Normalize.
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { BoundedReadError, DEFAULT_MAX_FILE_BYTES, readRegularFile, readRegularFileHead } from '../core/boundedRead';
import { resizeRgbLikePil, type Resampling } from './pil-resample';
import { errorMessage } from '../core/errors';

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

/**
 * An image that cannot be used; the message names the file. `reason` is the short, file-independent cause
 * ("image not found", "image is a character device", ...) that evaluation reports group not-scored queries by.
 */
export class ImageError extends Error {
  constructor(readonly file: string, message: string, readonly reason = 'image cannot be used') {
    super(`${file}: ${message}`);
    this.name = 'ImageError';
  }
}

/** What a refused path is, in the words of the BoundedReadError message ("a character device", "a directory"). */
function refusedKind(detail: string): string {
  return /is (an? [^,]+?), not a regular file/.exec(detail)?.[1] ?? 'not a regular file';
}

/**
 * Read an image's bytes through the bounded reader (spec of src/core/boundedRead.ts): an annotation file names
 * the path, so devices, FIFOs, directories and files over `maxBytes` are refused within a second, naming the file.
 */
export async function readImageBytes(file: string, maxBytes = DEFAULT_MAX_FILE_BYTES): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(file, { maxBytes, what: 'image' });
  } catch (e) {
    if (!(e instanceof BoundedReadError)) throw new ImageError(file, `cannot read image (${errorMessage(e)})`, 'image unreadable');
    const detail = e.message.slice(file.length + 2);
    switch (e.reason) {
      case 'missing': throw new ImageError(file, 'image file not found', 'image not found');
      case 'not-regular': {
        const kind = refusedKind(detail);
        throw new ImageError(file, detail, kind === 'not a regular file' ? 'image is not a regular file' : `image is ${kind}`);
      }
      case 'too-large': throw new ImageError(file, detail, 'image over the size limit');
      case 'changed': throw new ImageError(file, detail, 'image changed while read');
      default: {
        const denied = /EACCES|permission denied/i.test(detail);
        throw new ImageError(file, denied ? 'image file is not readable (permission denied)' : detail, 'image unreadable');
      }
    }
  }
  if (bytes.length === 0) throw new ImageError(file, 'image file is empty (0 bytes)', 'image is empty');
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
    throw new ImageError(file, `not a readable image (${cleanSharpMessage(e)})`, 'image cannot be decoded');
  }
  const w = meta.width ?? 0, h = meta.height ?? 0;
  if (!(w > 0 && h > 0)) throw new ImageError(file, 'image has no size (corrupt header?)', 'image cannot be decoded');
  if (w * h > maxPixels) {
    throw new ImageError(file, `image is ${w}×${h} = ${(w * h / 1e6).toFixed(1)} megapixels, over the limit of ${(maxPixels / 1e6).toFixed(0)}`, 'image over the pixel limit');
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
    throw new ImageError(file, `cannot decode image (${cleanSharpMessage(e)})`, 'image cannot be decoded');
  }
}

/** Bytes of an image's head that {@link storedSize} reads: headers and EXIF sit at the start of the file. */
const HEADER_BYTES = 1 << 20;

/**
 * Stored pixel size and EXIF orientation tag (1 when absent; 5–8 swap width and height), from the file's first
 * megabyte read through the bounded reader (sharp never opens a dataset-named path itself). Undefined when the
 * file is refused or its header does not decode: the full read that follows reports why.
 */
export async function storedSize(
  file: string, maxBytes = DEFAULT_MAX_FILE_BYTES,
): Promise<{ width: number; height: number; orientation: number } | undefined> {
  try {
    const head = await readRegularFileHead(file, HEADER_BYTES, { maxBytes, what: 'image' });
    const m = await sharp(head, { limitInputPixels: false }).metadata();
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
export function normalizeToChw(
  rgb: Uint8Array, size: number, mean: readonly number[], std: readonly number[], out?: Float32Array,
): Float32Array {
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
export async function prepareImage(file: string, spec: ImageSpec, maxPixels = DEFAULT_MAX_PIXELS, knownBytes?: Uint8Array,
    maxBytes = DEFAULT_MAX_FILE_BYTES): Promise<PreparedImage> {
  const bytes = knownBytes ?? await readImageBytes(file, maxBytes);
  const hash = contentHash(bytes);
  const rgb = await decodeRgb(bytes, file, maxPixels);
  const resized = resizeRgbLikePil(rgb.data, rgb.width, rgb.height, spec.size, spec.size, spec.resampling);
  return { file, hash, width: rgb.width, height: rgb.height, tensor: normalizeToChw(resized, spec.size, spec.mean, spec.std) };
}
