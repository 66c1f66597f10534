// Image size from the file header, without decoding: lint checks boxes against the image when the annotation
// format carries no size (AMC VG JSON, VG without image_data.json) and reports images whose header does not parse.
// Reads go through boundedRead (regular files only, a few small positional reads, never the whole file).
import type { FileHandle } from 'node:fs/promises';
import { openRegularFile, type BoundedReadOptions } from './boundedRead';

export type ImageHeader = { width: number; height: number; format: string } | { error: string };

const MAX_JPEG_SEGMENTS = 4096;

/** Width/height of a PNG, JPEG, GIF, BMP or WebP from its header; `{error}` when the header does not parse. */
export async function readImageHeader(file: string, opts: BoundedReadOptions = {}): Promise<ImageHeader> {
  const { handle, size } = await openRegularFile(file, { what: 'image', ...opts });
  try {
    const head = await readAt(handle, 0, Math.min(64, size));
    return head.length === 0 ? { error: 'the file is empty (0 bytes)' } : await parseHeader(handle, head, size);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(Math.max(0, length));
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await handle.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

function sized(width: number, height: number, format: string): ImageHeader {
  if (!(width > 0 && height > 0)) return { error: `the ${format} header gives a size of ${width}x${height}` };
  return { width, height, format };
}

async function parseHeader(handle: FileHandle, h: Buffer, size: number): Promise<ImageHeader> {
  if (h.length >= 24 && h.readUInt32BE(0) === 0x89504e47 && h.readUInt32BE(4) === 0x0d0a1a0a) {
    if (h.toString('latin1', 12, 16) !== 'IHDR') return { error: 'PNG without an IHDR chunk first' };
    return sized(h.readUInt32BE(16), h.readUInt32BE(20), 'PNG');
  }
  if (h.length >= 10 && (h.toString('latin1', 0, 6) === 'GIF87a' || h.toString('latin1', 0, 6) === 'GIF89a')) {
    return sized(h.readUInt16LE(6), h.readUInt16LE(8), 'GIF');
  }
  if (h.length >= 26 && h.toString('latin1', 0, 2) === 'BM') return sized(h.readInt32LE(18), Math.abs(h.readInt32LE(22)), 'BMP');
  if (h.length >= 30 && h.toString('latin1', 0, 4) === 'RIFF' && h.toString('latin1', 8, 12) === 'WEBP') {
    const kind = h.toString('latin1', 12, 16);
    if (kind === 'VP8X') return sized(1 + h.readUIntLE(24, 3), 1 + h.readUIntLE(27, 3), 'WebP');
    if (kind === 'VP8L' && h[20] === 0x2f) {
      const bits = h.readUInt32LE(21);
      return sized(1 + (bits & 0x3fff), 1 + ((bits >> 14) & 0x3fff), 'WebP');
    }
    if (kind === 'VP8 ' && h[23] === 0x9d && h[24] === 0x01 && h[25] === 0x2a) return sized(h.readUInt16LE(26) & 0x3fff, h.readUInt16LE(28) & 0x3fff, 'WebP');
    return { error: `WebP with an unknown ${JSON.stringify(kind)} chunk` };
  }
  if (h.length >= 2 && h[0] === 0xff && h[1] === 0xd8) return jpegSize(handle, size);
  return { error: `not a PNG, JPEG, GIF, BMP or WebP image (starts with ${h.subarray(0, 8).toString('hex')})` };
}

/** Walks the JPEG marker segments by their lengths (a few 4-byte reads) to the first SOFn frame header. */
async function jpegSize(handle: FileHandle, size: number): Promise<ImageHeader> {
  let pos = 2;
  for (let n = 0; n < MAX_JPEG_SEGMENTS; n++) {
    const seg = await readAt(handle, pos, 4);
    if (seg.length < 4) return { error: `JPEG ends at byte ${pos} before its frame header (truncated)` };
    if (seg[0] !== 0xff) return { error: `JPEG marker expected at byte ${pos}, found 0x${seg[0].toString(16)}` };
    const marker = seg[1];
    if (marker === 0xff) { pos += 1; continue; } // fill byte
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { pos += 2; continue; } // no length
    if (marker === 0xd9 || marker === 0xda) return { error: `JPEG reaches its ${marker === 0xda ? 'scan data' : 'end'} at byte ${pos} without a frame header` };
    const length = seg.readUInt16BE(2);
    if (length < 2) return { error: `JPEG segment at byte ${pos} has length ${length}` };
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const frame = await readAt(handle, pos + 4, 5);
      if (frame.length < 5) return { error: `JPEG ends inside its frame header at byte ${pos}` };
      return sized(frame.readUInt16BE(3), frame.readUInt16BE(1), 'JPEG');
    }
    pos += 2 + length;
    if (pos >= size) return { error: `JPEG ends at byte ${size} before its frame header (truncated)` };
  }
  return { error: `JPEG has more than ${MAX_JPEG_SEGMENTS} segments before its frame header` };
}
