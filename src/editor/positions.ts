// Byte offsets (what the streaming readers record) → 0-based line/column, in one pass over the file, so Problems
// can point into a 700 MB file without loading it. Columns count bytes (exact for the ASCII JSON these files are).
import { createReadStream } from 'node:fs';

export interface LineColumn { line: number; column: number; }

export async function offsetsToPositions(file: string, offsets: readonly number[]): Promise<Map<number, LineColumn>> {
  const wanted = [...new Set(offsets.filter((o) => Number.isInteger(o) && o >= 0))].sort((a, b) => a - b);
  const out = new Map<number, LineColumn>();
  if (!wanted.length) return out;
  let k = 0, line = 0, lineStart = 0, base = 0;
  const last = wanted[wanted.length - 1];
  const stream = createReadStream(file, { end: last, highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i++) {
      const at = base + i;
      while (k < wanted.length && wanted[k] === at) { out.set(at, { line, column: at - lineStart }); k++; }
      if (chunk[i] === 0x0a) { line++; lineStart = at + 1; }
    }
    base += chunk.length;
  }
  for (; k < wanted.length; k++) out.set(wanted[k], { line, column: Math.max(0, wanted[k] - lineStart) });
  return out;
}
